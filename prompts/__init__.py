"""Prompt templates, as data: Markdown files rendered with Jinja2 and StrictUndefined."""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

__all__ = ["render"]


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
