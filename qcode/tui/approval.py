"""The TUI's approval bridge: the gate (qcode.approver) blocks the agent's worker thread on a
`Future` the UI thread resolves — no polling, no sleeps. What asks is `qcode.agent.policy`'s."""

from __future__ import annotations

from qcode.agent.policy import ApprovalMode, always_key, is_safe_command, needs_approval
from qcode.approver import ApprovalGate, AskUser, Decision

__all__ = [
    "ApprovalGate",
    "ApprovalMode",
    "AskUser",
    "Decision",
    "always_key",
    "is_safe_command",
    "needs_approval",
]
