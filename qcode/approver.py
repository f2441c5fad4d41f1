"""`qcode fix --approval ask|auto-edit`: ask at the terminal before a call the policy flags.

The decision of what asks is `qcode.agent.policy`'s; this only shows the call and reads y/n/a.
Without a terminal there is no one to ask: `require_terminal` refuses such a mode up front.
"""

from __future__ import annotations

from collections.abc import Callable

from qcode.agent.exceptions import UserError
from qcode.agent.policy import ApprovalMode, Request, always_key, needs_approval
from qcode.agent.untrusted import for_terminal

__all__ = ["TerminalApprover", "require_terminal"]

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
