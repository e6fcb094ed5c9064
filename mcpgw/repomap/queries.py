"""Tree-sitter queries that pull definitions, imports, calls, bases and branch points out of a file.

One query per language; capture names are the contract with :mod:`mcpgw.repomap.tags`:

``def.class`` / ``def.function`` with ``name`` (and ``body``)   a definition and its name
``import``      an import statement node (Python) or ``import.source`` a module string (JS/TS/Go)
``require``     a ``require("x")`` / ``import("x")`` argument (JS/TS)
``call``        the called name of a call (``f(...)``, ``obj.f(...)``, ``new F()``)
``base`` / ``impl`` with ``def.class``   a base class (extends) / an implemented interface
``branch``      a decision point for cyclomatic complexity (McCabe: 1 + decisions), counted like
                lizard counts them: Python ``if elif for while except finally and or`` (comprehension
                and ternary ``if``/``for`` included); JS/TS ``if for while catch case && || ?? ?:``;
                Go ``if for case && ||``.
``all``         a module-level ``__all__ = [...]`` value (Python)
"""

# ruff: noqa: E501 - tree-sitter query text reads best one pattern per line

from __future__ import annotations

PYTHON = r"""
(class_definition name: (identifier) @name body: (block) @body) @def.class
(class_definition superclasses: (argument_list [(identifier) (attribute)] @base)) @def.class.bases
(function_definition name: (identifier) @name body: (block) @body) @def.function
(import_statement) @import
(import_from_statement) @import
(call function: (identifier) @call)
(call function: (attribute attribute: (identifier) @call))
(decorator (identifier) @call)
(decorator (attribute attribute: (identifier) @call))
(module (expression_statement (assignment left: (identifier) @all.name right: [(list) (tuple)] @all)))
[(if_statement) (elif_clause) (for_statement) (while_statement) (except_clause) (finally_clause)
 (boolean_operator) (conditional_expression) (for_in_clause) (if_clause)] @branch
"""

_JS_COMMON = r"""
(function_declaration name: (identifier) @name body: (statement_block) @body) @def.function
(generator_function_declaration name: (identifier) @name body: (statement_block) @body) @def.function
(method_definition name: (_) @name body: (statement_block) @body) @def.function
(variable_declarator name: (identifier) @name value: [(arrow_function) (function_expression)] @body) @def.function
(import_statement source: (string (string_fragment) @import.source))
(export_statement source: (string (string_fragment) @import.source))
(call_expression function: [(identifier) (import)] @require.fn arguments: (arguments . (string (string_fragment) @require)))
(call_expression function: (identifier) @call)
(call_expression function: (member_expression property: (property_identifier) @call))
(new_expression constructor: (identifier) @call)
[(if_statement) (for_statement) (for_in_statement) (while_statement) (do_statement) (catch_clause)
 (switch_case) (ternary_expression)] @branch
(binary_expression operator: ["&&" "||" "??"] @branch)
"""

JAVASCRIPT = (
    _JS_COMMON
    + r"""
(class_declaration name: (identifier) @name body: (class_body) @body) @def.class
(class_declaration (class_heritage [(identifier) (member_expression)] @base)) @def.class.bases
"""
)

TYPESCRIPT = (
    _JS_COMMON
    + r"""
(class_declaration name: (type_identifier) @name body: (class_body) @body) @def.class
(abstract_class_declaration name: (type_identifier) @name body: (class_body) @body) @def.class
(interface_declaration name: (type_identifier) @name body: (interface_body) @body) @def.class
(class_declaration (class_heritage (extends_clause value: [(identifier) (member_expression)] @base))) @def.class.bases
(abstract_class_declaration (class_heritage (extends_clause value: [(identifier) (member_expression)] @base))) @def.class.bases
(class_declaration (class_heritage (implements_clause [(type_identifier) (generic_type)] @impl))) @def.class.bases
(abstract_class_declaration (class_heritage (implements_clause [(type_identifier) (generic_type)] @impl))) @def.class.bases
(interface_declaration (extends_type_clause [(type_identifier) (generic_type)] @base)) @def.class.bases
(function_signature name: (identifier) @name) @def.function
"""
)

GO = r"""
(function_declaration name: (identifier) @name body: (block) @body) @def.function
(method_declaration
  receiver: (parameter_list (parameter_declaration type: [
    (type_identifier) @receiver
    (pointer_type (type_identifier) @receiver)
    (generic_type type: (type_identifier) @receiver)
    (pointer_type (generic_type type: (type_identifier) @receiver))]))
  name: (field_identifier) @name body: (block) @body) @def.function
(type_spec name: (type_identifier) @name type: [(struct_type) (interface_type)] @body) @def.class
(type_spec type: (struct_type (field_declaration_list (field_declaration !name type: [(type_identifier) (qualified_type) (pointer_type)] @base)))) @def.class.bases
(type_spec type: (interface_type (type_elem [(type_identifier) (qualified_type)] @base))) @def.class.bases
(import_spec path: (interpreted_string_literal (interpreted_string_literal_content) @import.source))
(call_expression function: (identifier) @call)
(call_expression function: (selector_expression field: (field_identifier) @call))
(composite_literal type: (type_identifier) @call)
(composite_literal type: (qualified_type name: (type_identifier) @call))
[(if_statement) (for_statement) (expression_case) (type_case) (communication_case)] @branch
(binary_expression operator: ["&&" "||"] @branch)
"""

QUERIES: dict[str, str] = {
    "python": PYTHON,
    "javascript": JAVASCRIPT,
    "typescript": TYPESCRIPT,
    "tsx": TYPESCRIPT,
    "go": GO,
}
