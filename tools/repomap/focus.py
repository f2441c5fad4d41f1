"""What the task text points at: identifiers, `Class.member` pairs and file paths.

A pure function of the text. Identifiers that look like code (snake_case, CamelCase, dotted,
called) weigh more than plain words, which may be English that happens to name something.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["Focus", "parse_focus"]

_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:(?:\.|::|#|->)[A-Za-z_][A-Za-z0-9_]*)*")
_EXTENSIONS = "|".join(
    "py pyi js jsx mjs cjs ts tsx go rs java c h cc cpp cxx hh hpp rb".split()
    + "md rst txt toml ya?ml json cfg ini html css".split()
)
_PATH = re.compile(rf"(?:[\w.-]+/)+[\w.-]+|[\w-]+\.(?:{_EXTENSIONS})\b")
_SEPARATORS = re.compile(r"\.|::|#|->")
_STOPWORDS = frozenset(
    "the and for with that this from when into not are was but fix bug should does did has have its "
    "can will would could use using used make makes instead also then than there which while what where "
    "how why who all any add new old get set via see".split()
)
CODE_LIKE = 3.0
"""Weight of an identifier that looks like code, against 1.0 for a plain word."""


@dataclass(frozen=True)
class Focus:
    idents: dict[str, float] = field(default_factory=dict)
    """Identifier → weight."""
    qualified: frozenset[tuple[str, str]] = frozenset()
    """(scope, name) pairs written as `Scope.name`, `Scope::name`, `Scope#name`."""
    paths: frozenset[str] = frozenset()
    """Path fragments such as `models/query.py` or `query.py`."""

    def __bool__(self) -> bool:
        return bool(self.idents or self.qualified or self.paths)


def parse_focus(text: str) -> Focus:
    paths = {m.group().strip("./") for m in _PATH.finditer(text) if not m.group()[0].isdigit()}
    text = _PATH.sub(" ", text)  # `query.py` is a file, not the member `py` of `query`
    idents: dict[str, float] = {}
    qualified: set[tuple[str, str]] = set()
    for match in _DOTTED.finditer(text):
        parts = _SEPARATORS.split(match.group())
        called = text[match.end() : match.end() + 1] == "("
        for part in parts:
            if len(part) < 3 or part.lower() in _STOPWORDS:
                continue
            weight = CODE_LIKE if len(parts) > 1 or called or _looks_like_code(part) else 1.0
            idents[part] = max(idents.get(part, 0.0), weight)
        qualified.update(zip(parts, parts[1:], strict=False))
    return Focus(idents, frozenset(qualified), frozenset(p for p in paths if p))


def _looks_like_code(word: str) -> bool:
    return "_" in word or (any(c.isupper() for c in word[1:]) and any(c.islower() for c in word))
