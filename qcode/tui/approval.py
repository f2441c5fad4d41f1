"""When the TUI asks before a tool call runs, and the bridge that lets the worker thread wait for the answer.

The policy is pure (tested directly). The gate is what `new_session(approver=...)` receives: the core
calls it from the agent's worker thread before a validated call runs, and it blocks that thread on a
`Future` the UI thread resolves — no polling, no sleeps.
"""

from __future__ import annotations

import enum
import shlex
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Literal

from qcode.agent.contracts import ToolCall

__all__ = ["ApprovalGate", "ApprovalMode", "Decision", "always_key", "is_safe_command", "needs_approval"]

ApprovalMode = Literal["ask", "auto-edit", "yolo"]

EDIT_TOOLS = frozenset({"edit_file", "write_file"})
SHELL = "shell"

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


class Decision(enum.Enum):
    ACCEPT = "accept"
    REJECT = "reject"
    ALWAYS = "always"
    """Accept, and do not ask again for the same command (shell) or file (edits) in this session."""


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


def always_key(call: ToolCall) -> str:
    """What "always" remembers: the exact command for shell, the file for edits, else the tool."""
    if call.name == SHELL:
        return f"shell:{str(call.arguments.get('command', '')).strip()}"
    if call.name in EDIT_TOOLS:
        return f"edit:{call.arguments.get('path', '')}"
    return f"tool:{call.name}"


def needs_approval(
    call: ToolCall,
    mode: ApprovalMode,
    allowed: frozenset[str] | set[str] = frozenset(),
    asks_like_shell: Callable[[str], bool] | None = None,
) -> bool:
    """ask: edits and unsafe shell commands ask; auto-edit: only unsafe shell commands; yolo: nothing.

    `asks_like_shell(name)` names tools from outside qcode (MCP servers, which run on the host) that
    ask like an unsafe shell command unless their server marks them read-only."""
    if mode == "yolo" or always_key(call) in allowed:
        return False
    if call.name == SHELL:
        return not is_safe_command(str(call.arguments.get("command", "")))
    if asks_like_shell is not None and asks_like_shell(call.name):
        return True
    return call.name in EDIT_TOOLS and mode == "ask"


AskUser = Callable[[ToolCall, "Future[Decision]"], None]
"""Shows the prompt on the UI thread; the prompt resolves the future it is given."""


class ApprovalGate:
    """The session's approver: None approves, a string rejects with that reason (see tools/registry.py)."""

    def __init__(self, mode: ApprovalMode, ask: AskUser) -> None:
        self.mode = mode
        self.allowed: set[str] = set()
        self.asks_like_shell: Callable[[str], bool] | None = None
        """Set by the app once the session's MCP servers are known (see `needs_approval`)."""
        self._ask = ask
        self._lock = threading.Lock()
        self._pending: Future[Decision] | None = None
        self._reason: str | None = None
        self._closed: str | None = None

    def __call__(self, call: ToolCall) -> str | None:
        if not needs_approval(call, self.mode, self.allowed, self.asks_like_shell):
            return None
        future: Future[Decision] = Future()
        with self._lock:
            if self._closed is not None:
                return self._closed
            self._pending, self._reason = future, None
        self._ask(call, future)
        try:
            decision = future.result()  # blocks the worker thread only; the UI thread resolves it
        finally:
            with self._lock:
                self._pending = None
        if decision is Decision.ALWAYS:
            self.allowed.add(always_key(call))
        if decision is Decision.REJECT:
            return self._reason or "the user rejected it"
        return None

    def release(self, reason: str, close: bool = False) -> None:
        """Answer a pending prompt with a rejection (Esc, quit) so the worker thread moves on;
        `close` also rejects every later call (the app is going away)."""
        with self._lock:
            pending = self._pending
            if close:
                self._closed = reason
            if pending is not None and not pending.done():
                self._reason = reason
                pending.set_result(Decision.REJECT)
