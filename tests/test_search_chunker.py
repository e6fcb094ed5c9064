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


def test_javascript_functions_assigned_to_properties_are_definitions() -> None:
    """CommonJS style (express, older axios): ``res.send = function send() {}`` under a JSDoc block that
    stands one blank line above it."""
    src = """/**
 * Module dependencies.
 * @private
 */

var mime = require('mime');

/**
 * Send a response.
 *
 * @param {string} body
 */

res.send = function send(body) {
  return this.end(body);
};

req.get =
req.header = function header(name) {
  return this.headers[name];
};

View.prototype.lookup = function lookup(name) {
  return name;
};

module.exports = function createApplication() {
  return {};
};
"""
    got = kinds("lib/response.js", src)
    assert (1, 6, "module", []) in got  # "Module dependencies" + require: not a definition of its own
    assert (8, 16, "method", ["send", "res.send"]) in got  # the doc comment travels with it
    assert (18, 21, "method", ["get", "header", "req.get"]) in got
    assert (23, 25, "method", ["lookup", "View.lookup"]) in got
    assert (27, 29, "function", ["createApplication"]) in got


def test_jsdoc_documented_bindings_are_definitions() -> None:
    src = """/**
 * Determine if a value is a Date
 *
 * @param {*} val The value to test
 * @returns {boolean}
 */
const isDate = kindOfTest('Date');

/** How long to wait, in milliseconds. */
export const TIMEOUT = 1000;

// not a doc comment
const other = compute();

/** Re-exported. */
const { a, b } = lib;
"""
    got = kinds("lib/utils.ts", src)
    assert (1, 7, "function", ["isDate"]) in got  # @param / @returns: a function made by a factory
    assert (9, 10, "variable", ["TIMEOUT"]) in got
    assert not [c for c in got if c[3] in (["other"], ["a"], ["{ a, b }"])]


def test_export_default_functions_and_classes_are_definitions() -> None:
    anonymous = "/**\n * Resolve a URL.\n */\nexport default function (url) {\n  return url;\n}\n"
    assert kinds("resolve.js", anonymous) == [(1, 6, "function", ["default"])]
    guarded = "import x from 'y';\n\nexport default isSupported && function httpAdapter(config) {\n  return 1;\n}\n"
    assert kinds("http.js", guarded)[1:] == [(3, 5, "function", ["httpAdapter"])]
    klass = "export default class extends Base {\n  run() {\n    return 1;\n  }\n}\n"
    assert (2, 4, "method", ["run", "default.run"]) in kinds("k.js", klass)
    assert kinds("c.js", "export default { a: 1 };\n") == [(1, 1, "module", [])]


def test_class_fields_holding_arrow_functions_are_methods() -> None:
    ts = "class Panel {\n  /** Close it. */\n  onClose = (e: Event): void => {\n    this.hide(e);\n  };\n  private count = 0;\n}\n"
    got = kinds("panel.ts", ts)
    assert (2, 5, "method", ["onClose", "Panel.onClose"]) in got
    assert not [c for c in got if "count" in c[3]]  # a plain field stays in the class's own chunk
    js = "class Panel {\n  onOpen = () => {\n    show();\n  };\n}\n"
    assert (2, 4, "method", ["onOpen", "Panel.onOpen"]) in kinds("panel.js", js)


def test_functions_held_in_object_literals_or_passed_by_name_are_definitions() -> None:
    src = """export default hasBrowser ?
  {
    /** Write a cookie. */
    write(name, value) {
      document.cookie = name + '=' + value;
    },
    remove(name) { this.write(name, ''); }
  } : {};

const defaults = {
  transformRequest: [function transformRequest(data) {
    return data;
  }],
  validateStatus: function validateStatus(status) {
    return status >= 200 && status < 300;
  },
};

defineGetter(req, 'protocol', function protocol() {
  return 'http';
});

describe('cookies', () => {
  it('writes', () => {
    expect(1).toBe(1);
  });
});
"""
    got = kinds("lib/helpers.js", src)
    assert (3, 6, "function", ["write"]) in got  # its JSDoc with it
    assert (11, 13, "method", ["transformRequest", "defaults.transformRequest"]) in got
    assert (14, 16, "method", ["validateStatus", "defaults.validateStatus"]) in got
    assert (19, 21, "function", ["protocol"]) in got
    assert not [c for c in got if c[3] in (["remove"], ["it"], ["describe"])]  # one-liners, anonymous callbacks
    assert (23, 27, "module", []) in got


def test_umd_wrappers_and_closures_used_as_modules_are_looked_into() -> None:
    """lodash-style: ``;(function() { … }.call(this));`` around the whole file, and inside it a
    ``var runInContext = (function runInContext() { … })`` longer than MAX_LINES holding the API."""
    filler = "\n".join(f"    var x{i} = {i};" for i in range(MAX_LINES))
    src = f"""/** @license */
;(function() {{
  function arrayPush(array, values) {{
    return array.concat(values);
  }}

  var runInContext = (function runInContext(context) {{
{filler}
    /**
     * Creates an array of elements split into groups the length of `size`.
     */
    function chunk(array, size) {{
      return [array, size];
    }}
    return chunk;
  }});
}}.call(this));
"""
    got = kinds("lodash.js", src)
    assert (3, 5, "function", ["arrayPush"]) in got
    at = 8 + MAX_LINES
    assert (at, at + 5, "function", ["chunk", "runInContext.chunk"]) in got  # a function, with its JSDoc
    assert any(c[2] == "function" and c[3] == ["runInContext"] for c in got)  # the closure's own lines
    assert not [c for c in got if c[1] - c[0] + 1 > MAX_LINES]
    small = "var f = (function f() {\n  function inner() {\n    return 1;\n  }\n  return inner;\n});\n"
    assert kinds("small.js", small) == [(1, 6, "function", ["f"])]  # a short closure stays whole


def test_definitions_sharing_a_line_make_one_chunk() -> None:
    minified = "/* lib */\nfunction a(){return 1}function b(){return 2}var c=function(){return 3};\n"
    got = kinds("lib.js", minified)
    assert [(start, end) for start, end, *_ in got] == [(1, 2)]  # not three chunks of the same line


def test_a_javadoc_one_blank_line_above_stays_with_its_method() -> None:
    java = "class Shop {\n  /** Total price. */\n\n  int total() { return 1; }\n\n  // aside\n\n  int none() { return 0; }\n}\n"
    got = kinds("Shop.java", java)
    assert (2, 4, "method", ["total", "Shop.total"]) in got
    assert (8, 8, "method", ["none", "Shop.none"]) in got  # a plain comment must touch its definition


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
