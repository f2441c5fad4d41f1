"""The `replay:FILE` engine: scripted model turns, one per line, for demos, tests and resumes.

`raw` lines go through the same Qwen3 parser as real engine output, so parsing and recovery are
exercised. Token counts are estimates (4 characters a token); the cached share is the common
prefix with the previous call's prompt, as a prefix cache would serve it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from qcode.agent.contracts import Channel, Message, TokenCallback, ToolCall, Turn
from qcode.agent.engines.estimate import UsageEstimator
from qcode.agent.engines.stream_split import split_whole
from qcode.agent.exceptions import ReplayExhausted, UserError
from qcode.agent.qwen_xml import parse_turn

__all__ = ["ReplayEngine", "ReplayLine", "load_replay"]


class ReplayToolCall(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class ReplayLine(BaseModel):
    """One model turn: either `raw` text or structured `content` + `tool_calls`."""

    model_config = ConfigDict(extra="forbid")

    raw: str | None = None
    content: str | None = None
    reasoning: str | None = None
    tool_calls: list[ReplayToolCall] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_form(self) -> ReplayLine:
        if self.raw is not None and (self.content is not None or self.tool_calls):
            raise ValueError("use either 'raw' or 'content'/'tool_calls', not both")
        if self.raw is None and self.content is None and not self.tool_calls:
            raise ValueError("needs 'raw', 'content' or 'tool_calls'")
        return self


def load_replay(path: Path) -> list[ReplayLine]:
    """Read and validate every line up front, so a bad file fails before any work starts."""
    if not path.is_file():
        raise UserError(f"replay file {path} does not exist; pass --engine replay:PATH to a JSONL file")
    lines: list[ReplayLine] = []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            lines.append(ReplayLine.model_validate(json.loads(text)))
        except (json.JSONDecodeError, ValidationError) as err:
            detail = err.msg if isinstance(err, json.JSONDecodeError) else err.errors()[0]["msg"]
            raise UserError(
                f"{path}:{number}: malformed replay line ({detail}); each line must be "
                '{"raw": "..."} or {"content": "...", "tool_calls": [{"name": ..., "arguments": {...}}]}'
            ) from None
    return lines


class ReplayEngine:
    """Serves the turns of a replay file in order, to every model call of a session."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"replay:{path}"
        self._lines = load_replay(path)
        self._next = 0
        self._usage = UsageEstimator()

    def complete(
        self,
        messages: Sequence[Message],
        tools: Sequence[dict[str, Any]],
        *,
        on_token: TokenCallback | None = None,
    ) -> Turn:
        started = time.monotonic()
        if self._next >= len(self._lines):
            raise ReplayExhausted(
                f"replay file {self.path} has no more turns ({len(self._lines)} used); the run needed more"
            )
        line = self._lines[self._next]
        self._next += 1
        turn = self._turn(line, tools)
        if on_token is not None:
            for text, channel in _pieces(turn):
                on_token(text, channel)
        completion = turn.raw or turn.text + json.dumps([c.arguments for c in turn.tool_calls])
        turn.usage = self._usage.measure(messages, completion)
        turn.duration = time.monotonic() - started
        return turn

    def _turn(self, line: ReplayLine, tools: Sequence[dict[str, Any]]) -> Turn:
        if line.raw is not None:
            parsed = parse_turn(line.raw, tools)
            return Turn(
                text=parsed.text,
                reasoning=parsed.reasoning,
                tool_calls=parsed.tool_calls,
                raw=line.raw,
                finish_reason="stop",
            )
        calls = [
            ToolCall(id=f"call_{index}", name=call.name, arguments=call.arguments)
            for index, call in enumerate(line.tool_calls)
        ]
        return Turn(
            text=line.content or "", reasoning=line.reasoning or "", tool_calls=calls, finish_reason="stop"
        )

    def close(self) -> None:
        """Nothing to release."""


def _pieces(turn: Turn) -> list[tuple[str, Channel]]:
    """The turn as an engine would have streamed it, by channel."""
    if turn.raw is None:
        parts: list[tuple[str, Channel]] = [(turn.reasoning, "reasoning"), (turn.text, "text")]
        return [(text, channel) for text, channel in parts if text]
    return split_whole(turn.raw)
