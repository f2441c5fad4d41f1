"""Which grammar parses a file, and the tag query and scope rules that go with it.

Grammars come from the official per-language wheels (tree-sitter-python, -javascript, …), which
bundle compiled parsers and work offline. A wheel that is missing only turns its language off:
`load` returns None and the caller notes the skipped files.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from importlib import resources
from pathlib import PurePosixPath

import tree_sitter as ts

__all__ = ["LanguageSpec", "Grammar", "SPECS", "language_for", "load"]


@dataclass(frozen=True)
class LanguageSpec:
    name: str
    module: str
    """Import name of the grammar wheel."""
    factory: str
    """Function in that module returning the language pointer."""
    extensions: tuple[str, ...]
    scopes: dict[str, str]
    """Node types that qualify the definitions inside them → the field holding their name."""


_CLASS = {"class_definition": "name"}
_JS = {
    "class_declaration": "name",
    "class": "name",
    "abstract_class_declaration": "name",
    "interface_declaration": "name",
    "module": "name",
}
_C_FAMILY = {
    "struct_specifier": "name",
    "class_specifier": "name",
    "union_specifier": "name",
    "namespace_definition": "name",
}

SPECS: dict[str, LanguageSpec] = {
    spec.name: spec
    for spec in (
        LanguageSpec("python", "tree_sitter_python", "language", (".py", ".pyi"), _CLASS),
        LanguageSpec(
            "javascript", "tree_sitter_javascript", "language", (".js", ".jsx", ".mjs", ".cjs"), _JS
        ),
        LanguageSpec(
            "typescript", "tree_sitter_typescript", "language_typescript", (".ts", ".mts", ".cts"), _JS
        ),
        LanguageSpec("tsx", "tree_sitter_typescript", "language_tsx", (".tsx",), _JS),
        LanguageSpec(
            "go",
            "tree_sitter_go",
            "language",
            (".go",),
            {"method_declaration": "receiver", "type_spec": "name"},
        ),
        LanguageSpec(
            "rust",
            "tree_sitter_rust",
            "language",
            (".rs",),
            {"impl_item": "type", "trait_item": "name", "mod_item": "name"},
        ),
        LanguageSpec(
            "java",
            "tree_sitter_java",
            "language",
            (".java",),
            {
                "class_declaration": "name",
                "interface_declaration": "name",
                "enum_declaration": "name",
                "record_declaration": "name",
            },
        ),
        LanguageSpec("c", "tree_sitter_c", "language", (".c", ".h"), _C_FAMILY),
        LanguageSpec(
            "cpp",
            "tree_sitter_cpp",
            "language",
            (".cc", ".cpp", ".cxx", ".c++", ".hh", ".hpp", ".hxx", ".h++", ".ipp"),
            _C_FAMILY,
        ),
        LanguageSpec(
            "ruby",
            "tree_sitter_ruby",
            "language",
            (".rb", ".rake", ".gemspec"),
            {"class": "name", "module": "name"},
        ),
    )
}

_BY_EXTENSION = {ext: spec.name for spec in SPECS.values() for ext in spec.extensions}
_QUERY_FILE = {"tsx": "typescript"}  # TSX shares the TypeScript tag query


def language_for(path: str) -> str | None:
    """The language name for a path, by its extension; None when no grammar covers it."""
    return _BY_EXTENSION.get(PurePosixPath(path).suffix.lower())


@dataclass(frozen=True)
class Grammar:
    spec: LanguageSpec
    language: ts.Language
    query: ts.Query


@functools.cache
def load(name: str) -> Grammar | None:
    """The grammar and compiled tag query for `name`, or None when its wheel is not installed."""
    spec = SPECS[name]
    try:
        module = importlib.import_module(spec.module)
    except ImportError:
        return None
    language = ts.Language(getattr(module, spec.factory)())
    query = ts.Query(language, query_text(name))
    return Grammar(spec, language, query)


def query_text(name: str) -> str:
    """The tag query kept as a data file in `queries/` (definitions `@def.<kind>`, references `@ref`)."""
    stem = _QUERY_FILE.get(name, name)
    return resources.files(__package__).joinpath("queries", f"{stem}.scm").read_text(encoding="utf-8")
