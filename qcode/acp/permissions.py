"""Approvals as ACP permission requests: allow once, allow always, reject.

The policy (which calls ask, what "always" remembers) is the TUI's, reached through `_policy`
only: when it moves to the core, that import is the one line to change. It is imported when a
session opens, not at start (the TUI package loads Textual), so `initialize` answers at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from acp.schema import PermissionOption, ToolCallUpdate

from qcode.acp.updates import tool_kind
from qcode.agent.contracts import ToolCall

if TYPE_CHECKING:
    from qcode.tui.approval import ApprovalGate as Gate
    from qcode.tui.approval import Decision

__all__ = ["OPTIONS", "ask_client", "decision_for", "make_gate"]

_log = logging.getLogger("qcode.acp")
OPTIONS = [
    PermissionOption(option_id="allow_once", name="Allow once", kind="allow_once"),
    PermissionOption(option_id="allow_always", name="Allow always (this session)", kind="allow_always"),
    PermissionOption(option_id="reject", name="Reject", kind="reject_once"),
]
_DECISIONS = {"allow_once": "ACCEPT", "allow_always": "ALWAYS", "reject": "REJECT"}


def _policy() -> Any:
    from qcode.tui import approval

    return approval


def make_gate(mode: str, ask: Callable[[ToolCall, Future[Decision]], None]) -> Gate:
    """The session's approver in approval mode `mode` (ask, auto-edit, yolo)."""
    gate: Gate = _policy().ApprovalGate(mode, ask)
    return gate


def decision_for(response: Any) -> Decision:
    """The client's answer as a decision; a cancelled request or an unknown option rejects."""
    decisions = _policy().Decision
    outcome = getattr(response, "outcome", None)
    if getattr(outcome, "outcome", None) != "selected":
        return decisions.REJECT  # type: ignore[no-any-return]
    return decisions[_DECISIONS.get(getattr(outcome, "option_id", ""), "REJECT")]  # type: ignore[no-any-return]


async def ask_client(
    conn: Any, session_id: str, tool_call_id: str, call: ToolCall, answer: Future[Decision]
) -> None:
    """Ask about the tool call the client knows as `tool_call_id`; resolve `answer` with the
    client's decision (reject when the request fails)."""
    decision = _policy().Decision.REJECT
    try:
        response = await conn.request_permission(
            session_id=session_id,
            tool_call=ToolCallUpdate(
                tool_call_id=tool_call_id, title=call.name, kind=tool_kind(call.name), status="pending",
                raw_input=call.arguments,
            ),
            options=OPTIONS,
        )  # fmt: skip
        decision = decision_for(response)
    except Exception as err:  # the client went away or answered nonsense: nothing runs unapproved
        _log.warning("permission request failed: %s", err)
    finally:
        if not answer.done():  # a cancel may have answered it already
            answer.set_result(decision)
