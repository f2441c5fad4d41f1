"""A scripted engine for loop-level tests: it answers with model text written in advance (parsed
by the real Qwen parser) and records every conversation it was sent."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from qcode.agent.compaction import message_chars
from qcode.agent.contracts import ExecResult, Message, TokenCallback, Turn
from qcode.agent.exceptions import ContextOverflow
from qcode.agent.qwen_xml import parse_turn, render_tool_call


def call(name: str, **arguments: Any) -> str:
    """One turn's raw text: a single tool call, as the model writes it."""
    return render_tool_call(name, arguments)


class ScriptedEngine:
    name = "scripted"

    def __init__(self, turns: Sequence[str], context_chars: int | None = None) -> None:
        self.turns = list(turns)
        self.context_chars = context_chars
        """Refuse (ContextOverflow, like a server's HTTP 400) a conversation longer than this."""
        self.received: list[list[Message]] = []

    def complete(
        self,
        messages: Sequence[Message],
        tools: Sequence[dict[str, Any]],
        *,
        on_token: TokenCallback | None = None,
    ) -> Turn:
        self.received.append(copy.deepcopy(list(messages)))
        if self.context_chars is not None and message_chars(messages) > self.context_chars:
            raise ContextOverflow(f"{message_chars(messages)} characters do not fit")
        raw = self.turns.pop(0)
        parsed = parse_turn(raw, tools)
        return Turn(text=parsed.text, tool_calls=parsed.tool_calls, raw=raw)

    def close(self) -> None:
        pass


class NoSandbox:
    """These tests never reach the shell; a call that did would fail loudly."""

    def exec(self, command: str, timeout: float | None = None) -> ExecResult:
        raise AssertionError("the shell must not run in this test")

    def close(self) -> None:
        pass
