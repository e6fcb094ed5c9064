"""The chunker: definitions with their comments per language, class members, splits, Markdown, SQL."""

from __future__ import annotations

from mcpgw.search.chunker import MAX_LINES, chunk_file


def kinds(rel: str, text: str) -> list[tuple[int, int, str, list[str]]]:
    return [(c.start_line, c.end_line, c.kind, c.symbols) for c in chunk_file(rel, text)]


def test_python_functions_classes_methods_keep_decorators_and_comments() -> None:
    src = '''"""Module."""
import os


@cache
def top(a):
    """Add."""
    return a


class Foo(Base):
    """A foo."""

    size = 3

    # explains bar
    def bar(self):
        return 1
'''
    assert kinds("m.py", src) == [
        (1, 2, "module", []),
        (5, 8, "function", ["top"]),
        (11, 14, "class", ["Foo"]),
        (16, 18, "method", ["bar", "Foo.bar"]),
    ]


def test_typescript_exports_arrow_functions_interfaces_and_methods() -> None:
    src = """/** Handles auth. */
export async function handleAuth(req: Request): Promise<void> {
  const token = req.headers.authorization;
}
export const double = (n: number) => n * 2;
export interface User {
  id: string;
}
export class Service {
  run(): void {}
}
"""
    got = kinds("a.ts", src)
    assert (1, 4, "function", ["handleAuth"]) in got
    assert (5, 5, "function", ["double"]) in got
    assert (6, 8, "interface", ["User"]) in got
    assert (10, 10, "method", ["run", "Service.run"]) in got
    assert kinds("a.tsx", "export function App() { return <div/>; }\n") == [(1, 1, "function", ["App"])]


def test_go_rust_java_definitions() -> None:
    go = "package main\n\n// Server serves.\ntype Server struct {\n\taddr string\n}\n\nfunc (s *Server) Start() error {\n\treturn nil\n}\n"
    assert kinds("s.go", go)[1:] == [(3, 6, "struct", ["Server"]), (8, 10, "method", ["Start", "Server.Start"])]
    rust = (
        "/// A point.\npub struct Point { x: i32 }\n\nimpl Point {\n    pub fn new(x: i32) -> Self { Point { x } }\n}\n"
    )
    assert (5, 5, "method", ["new", "Point.new"]) in kinds("p.rs", rust)
    java = "class Shop {\n  /** Total. */\n  int total() { return 1; }\n}\n"
    assert (2, 3, "method", ["total", "Shop.total"]) in kinds("Shop.java", java)
    js = "function plain() { return 1 }\nmodule.exports = { plain }\n"
    assert kinds("x.js", js)[0] == (1, 1, "function", ["plain"])


def test_large_function_is_split_with_its_signature_as_context() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES + 50))
    chunks = chunk_file("big.py", f"def huge(a, b):\n{body}\n")
    assert [(c.start_line, c.end_line) for c in chunks] == [(1, MAX_LINES), (MAX_LINES + 1, MAX_LINES + 51)]
    assert chunks[1].symbols == ["huge"] and "def huge(a, b):" in chunks[1].context


def test_markdown_sections_sql_statements_and_text_windows() -> None:
    md = (
        "# Title\nintro\n\n"
        + "".join(f"## Part {i}\n" + "text\n" * 10 for i in range(3))
        + "```\n# not a heading\n```\n"
    )
    sections = chunk_file("README.md", md)
    assert all(c.kind == "section" for c in sections)
    assert any("Part 1" in c.symbols for c in sections) and not any(
        "not a heading" in s for c in sections for s in c.symbols
    )
    sql = (
        "CREATE TABLE users (\n  id INTEGER PRIMARY KEY,\n  email TEXT\n);\n"
        + "SELECT 1;\n" * 3
        + "".join(f"CREATE INDEX idx_{i} ON users(email);\n" + "-- pad\n" * 45 for i in range(2))
    )
    chunks = chunk_file("schema.sql", sql)
    assert chunks[0].kind == "statement" and "users" in chunks[0].symbols
    assert any("idx_1" in c.symbols for c in chunks)
    text = "\n".join(f"line {i}" for i in range(130))
    assert [(c.start_line, c.end_line, c.kind) for c in chunk_file("notes.txt", text)] == [
        (1, 60, "text"),
        (61, 120, "text"),
        (121, 130, "text"),
    ]


def test_brace_only_and_empty_gaps_make_no_chunks() -> None:
    assert chunk_file("e.py", "\n\n\n") == []
    assert all(c.text.strip() for c in chunk_file("b.ts", "{\n}\n;\n"))
