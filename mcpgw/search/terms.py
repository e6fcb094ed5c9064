"""Identifier-aware terms for the keyword index: ``handleAuthRequest`` and ``parse_config`` are also
indexed (and queried) as their words, so "auth request" finds ``handleAuthRequest``."""

from __future__ import annotations

import re

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
