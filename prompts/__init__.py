"""Prompt templates, as data: Markdown files rendered with Jinja2 and StrictUndefined."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

__all__ = ["defuse", "render"]


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("qcode.prompts", ""),
        undefined=StrictUndefined,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


def render(name: str, **values: Any) -> str:
    """Render `prompts/<name>.md`; a missing value is an error, never an empty string."""
    return _environment().get_template(f"{name}.md").render(**values).strip()


def defuse(text: str, tags: Iterable[str] = ("issue", "untrusted")) -> str:
    """Make `<tag…` and `</tag…` inert (`&lt;tag`), so quoted text cannot close the block it sits in."""
    pattern = re.compile(r"<(\s*/?\s*)(" + "|".join(map(re.escape, tags)) + ")", re.IGNORECASE)
    return pattern.sub(lambda m: f"&lt;{m.group(1)}{m.group(2)}", text)
