"""Neutralise untrusted text (the model's words, tool names and arguments, issue text, repository
output) for each sink it reaches outside the model: the terminal, Rich markup, GitHub Actions'
log, git commit messages and GitHub markdown. Pure functions, tested directly.

Each sink has its own active syntax; text keeps its meaning for a reader and loses the effect:
- terminal: ESC sequences (CSI, OSC such as clipboard writes and window titles), other C0/C1
  controls and bidi overrides are removed;
- Rich markup: `[...]` is escaped, so a tool named `[/x]` is text, not a MarkupError;
- GitHub Actions: a line starting with `::` (or `##[`) is a workflow command; it is broken up;
- git: `Token: value` lines such as `Co-authored-by:` or `Signed-off-by:` would become trailers;
- GitHub markdown: closing keywords (`Fixes #1`), `@mentions` and hidden `<!-- comments -->`.
"""

from __future__ import annotations

import re

from rich.markup import escape

__all__ = ["for_commit", "for_markdown", "for_markup", "for_terminal"]

_JOIN = "\u2060"  # WORD JOINER: invisible, and it breaks every pattern below

_ESCAPES = re.compile(
    r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC … BEL/ST (titles, clipboard, hyperlinks)
    r"|\x1b[P^_X][^\x1b]*(?:\x1b\\)?"  # DCS / PM / APC / SOS strings
    r"|\x1b\[[0-?]*[ -/]*[@-~]?"  # CSI (cursor, clear screen, colours)
    r"|\x1b[ -/]*[0-~]?"  # any other ESC sequence
    r"|\x9b[0-?]*[ -/]*[@-~]?|\x9d[^\x07\x9c]*[\x07\x9c]?"  # 8-bit CSI and OSC
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_WORKFLOW = re.compile(r"^(\s*)(::|##\[)", re.MULTILINE)

_TRAILER = re.compile(r"^(\s*[A-Za-z][A-Za-z0-9-]*)(\s*:)", re.MULTILINE)
_CLOSING = re.compile(
    r"\b(close[sd]?|fix(?:e[sd])?|resolve[sd]?)\b(?=\s*:?\s*(?:[\w.-]+/[\w.-]+)?#|\s*:?\s*https?://)",
    re.IGNORECASE,
)
_MENTION = re.compile(r"(?<![\w`])@(?=[A-Za-z0-9])")
_HASH_REF = re.compile(r"#(?=\d)")


def for_terminal(text: str) -> str:
    """Text as it may reach a terminal or a CI log: no escape sequences or control characters
    (newline and tab stay), and no line that GitHub Actions would run as a workflow command."""
    clean = _CONTROLS.sub("", _ESCAPES.sub("", text.replace("\r\n", "\n")))
    return _WORKFLOW.sub(lambda m: f"{m.group(1)}{m.group(2)[0]}{_JOIN}{m.group(2)[1:]}", clean)


def for_markup(text: str) -> str:
    """Text to interpolate into a Rich markup string: terminal-safe and markup-escaped."""
    return escape(for_terminal(text))


def for_commit(text: str) -> str:
    """Untrusted text for a git commit message: no line of it can be read as a trailer (git's
    interpret-trailers, GitHub's Co-authored-by) and no closing keyword or mention acts on GitHub."""
    return _TRAILER.sub(lambda m: f"{m.group(1)}{_JOIN}{m.group(2)}", for_markdown(text))


def for_markdown(text: str) -> str:
    """Untrusted text for a GitHub issue, comment or PR body: terminal-safe, with closing keywords
    unlinked from their issue, mentions that notify nobody and HTML comments shown, not hidden."""
    text = for_terminal(text).replace("<!--", "&lt;!--")
    text = _CLOSING.sub(lambda m: f"{m.group(1)[0]}{_JOIN}{m.group(1)[1:]}", text)  # Fixes → F⁠ixes
    text = _HASH_REF.sub(f"#{_JOIN}", text)  # #12 and owner/repo#12 link nothing
    return _MENTION.sub(f"@{_JOIN}", text)
