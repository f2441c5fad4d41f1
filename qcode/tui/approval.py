"""The TUI's approval bridge: the worker thread waits for the person's answer.

What asks is decided by `qcode.agent.policy` (from the tool's declared effect). The gate is what
`new_session(approver=...)` receives: the registry calls it from the agent's worker thread before a
validated call runs, and it blocks that thread on a `Future` the UI thread resolves — no polling,
no sleeps.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable
from concurrent.futures import Future

from qcode.agent.policy import ApprovalMode, Request, always_key, is_safe_command, needs_approval

__all__ = ["ApprovalGate", "ApprovalMode", "Decision", "always_key", "is_safe_command", "needs_approval"]


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
