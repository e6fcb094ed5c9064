"""Tag extraction: definitions, imports, calls, bases and complexity per language, on real parses."""

from __future__ import annotations

import lizard

from mcpgw.repomap.tags import FileTags, extract_tags

PY = b"""
import os, a.b as ab
from . import x, y as z
from ..pkg.mod import (f, g)
from m import *
__all__ = ["Service", "run"]

class Service(Base, mod.Other):
    def handle(self, items, limit):
        total = 0
        for item in items:
            if item > limit and item % 2 or item < 0:
                total += helper(item)
        try:
            pass
        except KeyError:
            pass
        finally:
            total = [i for i in items if i] and total
        def inner():
            if total:
                return 1
        return self.other(total)

def run(a,
        b=1) -> None:
    while True:
        Service(a)
"""


def _def(tags: FileTags, qual: str):  # type: ignore[no-untyped-def]
    return next(d for d in tags.defs if d.qual == qual)


def test_python_definitions_imports_calls_and_bases() -> None:
    tags = extract_tags(PY, "python")
    assert [(d.kind, d.qual) for d in tags.defs] == [
        ("class", "Service"),
        ("function", "Service.handle"),
        ("function", "Service.handle.inner"),
        ("function", "run"),
    ]
    assert _def(tags, "run").signature == "def run(a, b=1) -> None"
    assert _def(tags, "Service").signature == "class Service(Base, mod.Other)"
    assert _def(tags, "Service.handle").line == 9
    assert tags.imports == [("os", []), ("a.b", []), (".", ["x", "y"]), ("..pkg.mod", ["f", "g"]), ("m", ["*"])]
    assert tags.exports == ["Service", "run"]  # __all__ wins over "every public name"
    assert [(tags.defs[i].name, n, k) for i, n, k in tags.bases] == [
        ("Service", "Base", "extends"),
        ("Service", "Other", "extends"),
    ]
    calls = {(tags.defs[i].qual, n) for i, n, _ in tags.calls}
    assert calls == {("Service.handle", "helper"), ("Service.handle", "other"), ("run", "Service")}
    assert tags.refs["helper"] == 1
    assert not tags.syntax_error


def test_python_complexity_matches_lizard() -> None:
    tags = extract_tags(PY, "python")
    measured = {
        f.name: f.cyclomatic_complexity
        for f in lizard.analyze_file.analyze_source_code("m.py", PY.decode()).function_list
    }
    assert _def(tags, "run").complexity == measured["run"] == 2
    assert _def(tags, "Service.handle.inner").complexity == measured["handle.inner"] == 2
    # A nested function's branches count for it alone, as lizard does.
    assert _def(tags, "Service.handle").complexity == measured["handle"] == 10


TS = b"""import { a } from "./x";
import * as y from '../y/index.js';
const z = require("./z");
export * from "./w";
export class Widget extends Base implements Render, Sized<number> {
  render(x: number): string { if (a && b) { return helper(x); } return x > 1 ? "a" : this.name; }
}
export interface Props extends Common { k(): void }
export const make = async (x: string): Promise<Widget> => { return new Widget(x ?? "") };
function hidden() { return 1 }
"""


def test_typescript_definitions_imports_and_heritage() -> None:
    tags = extract_tags(TS, "typescript")
    assert [(d.kind, d.qual, d.exported) for d in tags.defs] == [
        ("class", "Widget", True),
        ("function", "Widget.render", False),
        ("class", "Props", True),
        ("function", "make", True),
        ("function", "hidden", False),
    ]
    assert [spec for spec, _ in tags.imports] == ["./x", "../y/index.js", "./z", "./w"]
    assert _def(tags, "make").signature == "const make = async (x: string): Promise<Widget>"
    assert {(n, k) for _, n, k in tags.bases} == {
        ("Base", "extends"),
        ("Render", "implements"),
        ("Sized", "implements"),
        ("Common", "extends"),
    }
    assert _def(tags, "Widget.render").complexity == 4  # if, &&, ?:
    assert tags.exports == ["Widget", "Props", "make"]


GO = b"""package store

import (
\tf "fmt"
\t"example.com/app/internal/db"
)

type Store struct {
\tBase
\tname string
}

func (s *Store) Get(key string) (string, error) {
\tif key == "" || s == nil {
\t\treturn "", f.Errorf("empty")
\t}
\tfor i := 0; i < 3; i++ {
\t\tdb.Open(key)
\t}
\treturn s.name, nil
}

func New() *Store { return &Store{} }
func helper() {}
"""


def test_go_methods_belong_to_their_receiver_type() -> None:
    tags = extract_tags(GO, "go")
    assert [(d.kind, d.qual, d.exported) for d in tags.defs] == [
        ("class", "Store", True),
        ("function", "Store.Get", True),
        ("function", "New", True),
        ("function", "helper", False),
    ]
    assert _def(tags, "Store").signature == "type Store struct"
    assert _def(tags, "Store.Get").parent == 0
    assert tags.imports == [("fmt", []), ("example.com/app/internal/db", [])]
    assert (0, "Base", "extends") in tags.bases
    measured = {
        f.name: f.cyclomatic_complexity
        for f in lizard.analyze_file.analyze_source_code("s.go", GO.decode()).function_list
    }
    assert _def(tags, "Store.Get").complexity == measured["Get"] == 4
    assert tags.exports == ["Store", "New"]


def test_syntax_errors_still_yield_definitions() -> None:
    tags = extract_tags(b"def ok(x):\n    return x\n\ndef broken(:\n    pass\n\nclass After:\n    pass\n", "python")
    assert tags.syntax_error
    assert {"ok", "After"} <= {d.name for d in tags.defs}


def test_unknown_language_is_a_bare_file_and_tags_round_trip() -> None:
    bare = extract_tags(b"a\nb\nc", None)
    assert (bare.lang, bare.loc, bare.defs) == (None, 3, [])
    tags = extract_tags(TS, "typescript")
    assert FileTags.from_json(tags.to_json()) == tags
