"""The front doors' approvers: ask a person before a call the policy flags.

The decision of what asks is `qcode.agent.policy`'s. `TerminalApprover` (`qcode fix --approval`)
shows the call and reads y/n/a; without a terminal there is no one to ask, so `require_terminal`
refuses such a mode up front. `ApprovalGate` is the TUI's and the ACP agent's: the registry calls it
from the agent's worker thread, and it blocks that thread on a `Future` the UI (or the editor's
answer) resolves.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable
from concurrent.futures import Future

from qcode.agent.exceptions import UserError
from qcode.agent.policy import ApprovalMode, Request, always_key, needs_approval
from qcode.agent.untrusted import for_terminal

__all__ = ["ApprovalGate", "AskUser", "Decision", "TerminalApprover", "require_terminal"]

_ANSWERS = {"y": "accept", "yes": "accept", "n": "reject", "no": "reject", "a": "always", "always": "always"}


def require_terminal(mode: ApprovalMode, stdin_is_tty: bool) -> None:
    """A mode that may ask needs a person at a terminal (checked before anything loads)."""
    if mode != "yolo" and not stdin_is_tty:
        raise UserError(
            f"--approval {mode} asks at the terminal, but stdin is not one; "
            "run it in a terminal or use --approval yolo (the default)"
        )


class TerminalApprover:
    """The session's approver for the CLI: None approves, a string rejects (tools/registry.py)."""

    def __init__(
        self, mode: ApprovalMode, ask: Callable[[str], str], say: Callable[[str], None] = print
    ) -> None:
        self.mode = mode
        self.allowed: set[str] = set()
        self._ask, self._say = ask, say

    def __call__(self, request: Request) -> str | None:
        if not needs_approval(request, self.mode, self.allowed):
            return None
        self._say(for_terminal(_describe(request)))
        for _ in range(3):  # a typo gets asked again; three blanks or typos count as no
            answer = _ANSWERS.get(self._ask("Allow? [y]es / [n]o / [a]lways: ").strip().lower())
            if answer == "always":
                self.allowed.add(always_key(request))
            if answer in ("accept", "always"):
                return None
            if answer == "reject":
                break
        return "the user rejected it"


def _describe(request: Request) -> str:
    args = request.call.arguments
    if request.sandboxed_command:
        return f"{request.call.name}: $ {request.command}"
    if request.effect == "write":
        return f"{request.call.name}: {args.get('path', '')}"
    shown = ", ".join(f"{key}={str(value)[:80]!r}" for key, value in list(args.items())[:6])
    return f"{request.call.name}({shown})"


class Decision(enum.Enum):
    ACCEPT = "accept"
    REJECT = "reject"
    ALWAYS = "always"
    """Accept, and do not ask again for the same command (shell) or file (edits) in this session."""


AskUser = Callable[[Request, "Future[Decision]"], None]
"""Shows the prompt on the UI thread; the prompt resolves the future it is given."""


class ApprovalGate:
    """The session's approver: None approves, a string rejects with that reason (see tools/registry.py)."""

    def __init__(self, mode: ApprovalMode, ask: AskUser) -> None:
        self.mode = mode
        self.allowed: set[str] = set()
        self._ask = ask
        self._lock = threading.Lock()
        self._pending: Future[Decision] | None = None
        self._reason: str | None = None
        self._closed: str | None = None

    def __call__(self, request: Request) -> str | None:
        if not needs_approval(request, self.mode, self.allowed):
            return None
        future: Future[Decision] = Future()
        with self._lock:
            if self._closed is not None:
                return self._closed
            self._pending, self._reason = future, None
        self._ask(request, future)
        try:
            decision = future.result()  # blocks the worker thread only; the UI thread resolves it
        finally:
            with self._lock:
                self._pending = None
        if decision is Decision.ALWAYS:
            self.allowed.add(always_key(request))
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
