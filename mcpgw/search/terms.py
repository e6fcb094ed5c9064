"""Identifier-aware terms for the keyword index: ``handleAuthRequest`` and ``parse_config`` are also
indexed (and queried) as their words, so "auth request" finds ``handleAuthRequest``. And the words hybrid
ranking meets names with: English stems ("values" and ``get_value``), and the words behind common
abbreviations ("string to boolean" and ``str_to_bool``)."""

from __future__ import annotations

import re
import threading
from functools import lru_cache

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PARTS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_WORD = re.compile(r"\w+")

_STOP = """a an and are as at be by can do does for from has have how i if in into is it its me my no not of on
or our should so that the their then there these this those to under up us was we were what when where which
while who why will with you your code function method class file find show where's all any some using"""
STOPWORDS = frozenset(_STOP.split())


def split_identifier(ident: str) -> list[str]:
    """The lower-case words of an identifier (``HTTPServerError`` -> http, server, error)."""
    words: list[str] = []
    for piece in ident.split("_"):
        words.extend(m.group(0).lower() for m in _PARTS.finditer(piece))
    return [w for w in words if w]


def expand(text: str) -> str:
    """``text`` plus the words of each compound identifier in it (for the FTS body and symbols columns)."""
    extra: list[str] = []
    seen: set[str] = set()
    for match in _IDENT.finditer(text):
        ident = match.group(0)
        if ident in seen:
            continue
        seen.add(ident)
        parts = split_identifier(ident)
        if len(parts) > 1:
            extra.extend(parts)
    return f"{text}\n{' '.join(extra)}" if extra else text


def path_terms(path: str) -> str:
    """A path as words: ``src/auth/handleAuth.ts`` -> ``src auth handle auth ts handleauth``."""
    words: list[str] = []
    for ident in _WORD.findall(path):
        words.append(ident.lower())
        parts = split_identifier(ident)
        if len(parts) > 1:
            words.extend(parts)
    return " ".join(words)


def query_terms(query: str) -> list[str]:
    """The searchable words of a query: identifiers kept whole and split, stop words dropped."""
    terms: list[str] = []
    for ident in _WORD.findall(query):
        lowered = ident.lower()
        candidates = [lowered, *split_identifier(ident)] if not ident.isdigit() else [lowered]
        for term in candidates:
            if term and term not in STOPWORDS and (len(term) > 1 or term.isdigit()) and term not in terms:
                terms.append(term)
    return terms


def fts_query(terms: list[str]) -> str:
    """An FTS5 MATCH expression that ORs the quoted terms (quoting keeps FTS syntax out of user input)."""
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


# Abbreviations common in identifiers and the words they stand for, so that "convert a string to a boolean"
# meets ``str_to_bool``. Two-letter entries are kept to those that rarely mean anything else in a name.
ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "abs": ("absolute",),
    "addr": ("address",),
    "alloc": ("allocate",),
    "app": ("application",),
    "arg": ("argument",),
    "args": ("arguments",),
    "attr": ("attribute",),
    "attrs": ("attributes",),
    "auth": ("authentication",),
    "bool": ("boolean",),
    "btn": ("button",),
    "buf": ("buffer",),
    "calc": ("calculate",),
    "cb": ("callback",),
    "cfg": ("configuration",),
    "char": ("character",),
    "chars": ("characters",),
    "cls": ("class",),
    "cmd": ("command",),
    "cnt": ("count",),
    "col": ("column",),
    "conf": ("configuration",),
    "config": ("configuration",),
    "conn": ("connection",),
    "ctx": ("context",),
    "cur": ("current",),
    "curr": ("current",),
    "db": ("database",),
    "del": ("delete",),
    "desc": ("description",),
    "dest": ("destination",),
    "dict": ("dictionary",),
    "diff": ("difference",),
    "dir": ("directory",),
    "dirs": ("directories",),
    "doc": ("documentation",),
    "dst": ("destination",),
    "elem": ("element",),
    "env": ("environment",),
    "eq": ("equal",),
    "err": ("error",),
    "exc": ("exception",),
    "ext": ("extension",),
    "fmt": ("format",),
    "fn": ("function",),
    "func": ("function",),
    "ge": ("greater", "equal"),
    "gt": ("greater",),
    "hex": ("hexadecimal",),
    "idx": ("index",),
    "img": ("image",),
    "impl": ("implementation",),
    "info": ("information",),
    "init": ("initialize",),
    "int": ("integer",),
    "iter": ("iterate",),
    "kw": ("keyword",),
    "kwargs": ("keyword", "arguments"),
    "lang": ("language",),
    "le": ("less", "equal"),
    "len": ("length",),
    "lib": ("library",),
    "lt": ("less",),
    "max": ("maximum",),
    "mgr": ("manager",),
    "min": ("minimum",),
    "msg": ("message",),
    "ne": ("not", "equal"),
    "num": ("number",),
    "obj": ("object",),
    "opt": ("option",),
    "opts": ("options",),
    "param": ("parameter",),
    "params": ("parameters",),
    "pkg": ("package",),
    "pos": ("position",),
    "prev": ("previous",),
    "proc": ("process",),
    "ptr": ("pointer",),
    "pwd": ("password",),
    "rand": ("random",),
    "ref": ("reference",),
    "regex": ("regular", "expression"),
    "repr": ("representation",),
    "req": ("request",),
    "resp": ("response",),
    "ret": ("return",),
    "sep": ("separator",),
    "seq": ("sequence",),
    "sig": ("signature",),
    "spec": ("specification",),
    "src": ("source",),
    "str": ("string",),
    "sync": ("synchronize",),
    "tmp": ("temporary",),
    "tmpl": ("template",),
    "ts": ("timestamp",),
    "usr": ("user",),
    "util": ("utility",),
    "utils": ("utilities",),
    "val": ("value",),
    "vals": ("values",),
    "var": ("variable",),
    "vars": ("variables",),
    "ws": ("whitespace",),
}

_stemmers = threading.local()  # a Snowball stemmer keeps state between calls: one per thread


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The English (Snowball) stem of a lower-case word: "values", "parsing", "formatted" -> valu, pars, format."""
    stemmer = getattr(_stemmers, "english", None)
    if stemmer is None:
        import snowballstemmer  # 15 ms (it loads every language): only where a query is ranked

        stemmer = _stemmers.english = snowballstemmer.stemmer("english")
    return str(stemmer.stemWord(word))


@lru_cache(maxsize=65536)
def word_forms(word: str) -> tuple[tuple[str, ...], ...]:
    """The ways a lower-case word of a name can be spelled out by a query, each a tuple of stems that must all
    be there: its own stem, and for an abbreviation the stems of the words it stands for (``ge`` ->
    (ge,), (greater, equal))."""
    own = (stem(word),)
    full = ABBREVIATIONS.get(word)
    return (own, tuple(stem(w) for w in full)) if full else (own,)


def query_stems(terms: list[str]) -> frozenset[str]:
    """The stems of a query's terms, with the words of the abbreviations among them (a query that says
    "str" also spells out "string")."""
    out: set[str] = set()
    for term in terms:
        for form in word_forms(term):
            out.update(form)
    return frozenset(out)


@lru_cache(maxsize=1)
def _short_forms() -> dict[str, tuple[str, ...]]:
    """stem of a word -> the abbreviations that stand for it alone ("string" -> str). A plural whose singular
    is there too is left out: the keyword index stems both alike, and looking up both would count it twice."""
    out: dict[str, list[str]] = {}
    for short, full in ABBREVIATIONS.items():
        if len(full) == 1 and not (short.endswith("s") and short[:-1] in ABBREVIATIONS):
            out.setdefault(stem(full[0]), []).append(short)
    return {k: tuple(v) for k, v in out.items()}


def abbreviations_for(terms: list[str]) -> list[str]:
    """The abbreviations of the words a query spells out in full, not already among ``terms``: hybrid search
    also looks them up, so "convert a string to a boolean" matches the code that says ``str`` and ``bool``."""
    shorts = _short_forms()
    out: list[str] = []
    for term in terms:
        for short in shorts.get(stem(term), ()):
            if short not in terms and short not in out:
                out.append(short)
    return out
