"""Approval policy, the safe-command rules and what changes files: one place, asked by everyone.

Decisions are made from a tool's declared effect (agent/contracts.Effect), never from its name:
recovery (checkpoints), the TUI (prompts, previews, diff cards), the CLI (`qcode fix --approval`),
the bot and the eval runner (which never ask) all call these functions. Pure: tested directly.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Literal, get_args

from qcode.agent.contracts import Effect, ToolCall

__all__ = [
    "APPROVAL_MODES",
    "ApprovalMode",
    "Request",
    "always_key",
    "changes_files",
    "is_safe_command",
    "needs_approval",
    "shows_diff",
]

ApprovalMode = Literal["ask", "auto-edit", "yolo"]
"""ask: file changes and unsafe commands ask; auto-edit: only unsafe commands; yolo: nothing asks."""
APPROVAL_MODES: tuple[ApprovalMode, ...] = get_args(ApprovalMode)


@dataclass(frozen=True)
class Request:
    """What an approver is asked about: the validated call and what its tool declares."""

    call: ToolCall
    effect: Effect
    sandboxed_command: bool = False
    """The call's `command` argument runs in the sandbox's shell: the safe list below applies.
    Tools that run elsewhere (MCP servers on the host) never get that exemption."""

    @property
    def command(self) -> str:
        return str(self.call.arguments.get("command", ""))


def changes_files(effect: Effect) -> bool:
    """May a call with this effect change the workspace? (Recovery checkpoints before those.)"""
    return effect in ("write", "exec")


def shows_diff(effect: Effect) -> bool:
    """Is the call's result a change to files worth showing as a diff (edits, whole-file writes)?"""
    return effect == "write"


def always_key(request: Request) -> str:
    """What "always" remembers: the exact command, the file for writes, else the tool."""
    if request.sandboxed_command:
        return f"shell:{request.command.strip()}"
    if request.effect == "write":
        return f"edit:{request.call.arguments.get('path', '')}"
    return f"tool:{request.call.name}"


def needs_approval(
    request: Request, mode: ApprovalMode, allowed: frozenset[str] | set[str] = frozenset()
) -> bool:
    """yolo and reads/plan steps never ask; sandboxed commands ask unless on the safe list; other
    commands (MCP tools on the host, unknown tools) always ask; file writes ask in `ask` mode."""
    if mode == "yolo" or request.effect in ("read", "control") or always_key(request) in allowed:
        return False
    if request.sandboxed_command:
        return not is_safe_command(request.command)
    if request.effect == "exec":
        return True
    return mode == "ask"


_SAFE_PREFIXES: tuple[tuple[str, ...], ...] = (
    ("ls",),
    ("cat",),
    ("head",),
    ("tail",),
    ("wc",),
    ("pwd",),
    ("echo",),
    ("grep",),
    ("rg",),
    ("find",),
    ("tree",),
    ("cd",),
    ("diff",),
    ("file",),
    ("stat",),
    ("which",),
)
"""Commands whose whole effect is reading; each pipeline segment must start with one of these.
Left out on purpose: git (it obeys the workspace's own .git/config, which the model writes:
`diff.external`, `core.fsmonitor`, `core.pager` run programs; `git branch -D` deletes) and test
runners (they execute the repository's code). Both always ask in `ask` and `auto-edit` modes."""
_REFUSED_OPTIONS: dict[str, tuple[frozenset[str], str]] = {
    # command: (long or exact options that write or execute, short-option letters that do)
    "rg": (frozenset({"--pre", "--pre-glob", "--search-zip"}), "z"),
    "find": (
        frozenset(
            {"-exec", "-execdir", "-delete", "-ok", "-okdir", "-fprint", "-fprint0", "-fprintf", "-fls"}
        ),
        "",
    ),
    "tree": (frozenset({"-o", "-R", "--output"}), "oR"),
    "file": (frozenset({"-C", "--compile"}), "C"),
    "diff": (frozenset({"--to-file"}), ""),
}
"""Options that turn a listed command into one that writes files or runs programs."""
_SEPARATORS = frozenset({"|", "||", "&&", ";"})


def is_safe_command(command: str) -> bool:
    """True when every segment of the command is on the safe list and nothing writes or substitutes."""
    if "`" in command or "$(" in command or "\n" in command:
        return False
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:  # unbalanced quotes: not something to wave through
        return False
    segments: list[list[str]] = [[]]
    for token in tokens:
        if token in _SEPARATORS:
            segments.append([])
        elif token and set(token) <= set("<>&()"):
            return False  # redirections, background jobs, subshells
        else:
            segments[-1].append(token)
    return all(segment and _safe_segment(segment) for segment in segments)


def _safe_segment(words: list[str]) -> bool:
    if not any(tuple(words[: len(prefix)]) == prefix for prefix in _SAFE_PREFIXES):
        return False
    refused, letters = _REFUSED_OPTIONS.get(words[0], (frozenset(), ""))
    return not any(_refused(word, refused, letters) for word in words[1:])


def _refused(word: str, refused: frozenset[str], letters: str) -> bool:
    """`--pre=cmd` and `--pre cmd`, and a short-option cluster such as `-zn` holding `z`."""
    if word.split("=", 1)[0] in refused:
        return True
    cluster = word[1:] if word.startswith("-") and not word.startswith("--") else ""
    return any(letter in cluster for letter in letters)
