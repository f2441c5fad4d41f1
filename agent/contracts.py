"""The seams of qcode in one file: engines, sandboxes, tools and the records they exchange.

Concrete classes need not inherit from the protocols; they only have to fit them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Channel",
    "Effect",
    "Engine",
    "ExecResult",
    "Message",
    "NOT_RUN",
    "Observation",
    "PlanStep",
    "Sandbox",
    "TokenCallback",
    "ToolCall",
    "Turn",
    "Usage",
    "assistant_message",
    "in_call_order",
    "printable",
    "tool_message",
]

Message = dict[str, Any]
"""An OpenAI-style chat message: role, content, optional tool_calls / reasoning_content."""

Channel = Literal["reasoning", "text", "tool_call"]
"""Which part of a turn a streamed piece belongs to: reasoning, visible text, or a tool call's text."""

TokenCallback = Callable[[str, Channel], None]

Effect = Literal["read", "write", "exec", "control"]
"""What a tool does to the world: reads only, writes workspace files, runs commands, or steers the
run (plan, finish). Approval, recovery and the planner phase decide by it, never by tool name."""


class Usage(BaseModel):
    """Token accounting for one turn or a whole run."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    """Prompt tokens served from the engine's prefix cache."""

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cached_tokens=self.cached_tokens + other.cached_tokens,
        )


class ToolCall(BaseModel):
    """One tool call as the model made it (after parsing, before validation)."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    problem: str | None = None
    """Set when the call could not be parsed cleanly; the loop answers it with an observation."""
    repaired: str | None = None
    """Set when the parser repaired an unambiguous defect (e.g. an unclosed parameter)."""


class Turn(BaseModel):
    """What one engine call produced."""

    text: str = ""
    """Visible text outside tool calls and reasoning."""
    reasoning: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    raw: str | None = None
    """The text exactly as generated, when the engine has it."""
    usage: Usage = Field(default_factory=Usage)
    time_to_first_token: float | None = None
    duration: float = 0.0
    finish_reason: str | None = None


class Observation(BaseModel):
    """A tool's answer: the text the model sees plus structured data for UIs."""

    ok: bool = True
    text: str
    data: dict[str, Any] = Field(default_factory=dict)
    """Structured extras for front doors: diffs, exit codes, timings, plan steps."""


class PlanStep(BaseModel):
    step: str
    status: Literal["pending", "in_progress", "done", "failed"] = "pending"
    """`failed`: the step cannot be done as planned; the loop returns to the planner phase."""


class ExecResult(BaseModel):
    """The outcome of one sandbox command. Failures are data, never exceptions."""

    exit_code: int | None
    """None when the command was killed (timeout) before it could exit."""
    output: str
    timed_out: bool = False
    duration: float = 0.0
    truncated: bool = False
    shell_restarted: bool = False
    """True when the persistent shell had died and was started afresh for this command."""
    stopped: bool = False
    """True when the user stopped the run (Esc, Ctrl+Q): the command was killed or never started."""


@runtime_checkable
class Engine(Protocol):
    """Turns a conversation into the model's next turn."""

    name: str

    def complete(
        self,
        messages: Sequence[Message],
        tools: Sequence[dict[str, Any]],
        *,
        on_token: TokenCallback | None = None,
    ) -> Turn: ...

    def close(self) -> None: ...


@runtime_checkable
class Sandbox(Protocol):
    """Where commands run: one persistent shell per session, workspace at /workspace."""

    def exec(self, command: str, timeout: float | None = None) -> ExecResult: ...

    def close(self) -> None: ...


# The chat messages the loop appends; a resumed session rebuilds its history with the same two, so
# the rebuilt prompt matches the live one token for token (and the prefix cache still serves it).

NOT_RUN = "Not run: the run was stopped before this call."
"""The answer to a call that never ran because its run ended first."""


def assistant_message(turn: Turn) -> Message:
    """The turn as a chat message; `raw` keeps the text as generated, so an engine that renders its
    own prompt can show the model exactly what it wrote (the template would re-space it)."""
    message: Message = {"role": "assistant", "content": turn.text}
    if turn.raw is not None:
        message["raw"] = turn.raw
    if turn.reasoning:
        message["reasoning_content"] = turn.reasoning
    if turn.tool_calls:
        message["tool_calls"] = [
            {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
            for call in turn.tool_calls
        ]
    return message


def tool_message(call_id: str, name: str, text: str) -> Message:
    return {"role": "tool", "tool_call_id": call_id, "name": name, "content": text}


def in_call_order(answers: Sequence[Message], calls: Sequence[ToolCall]) -> list[Message]:
    """Tool answers sorted by their call's position in the turn: Qwen's format has no call ids, so
    the model pairs results with calls by position (anything unmatched stays last, in order)."""
    position = {call.id: index for index, call in enumerate(calls)}
    return sorted(answers, key=lambda m: position.get(m.get("tool_call_id", ""), len(calls)))


def printable(value: Any) -> Any:
    """`value` with every string made valid UTF-8: bytes a file name or output could not decode
    (kept by `surrogateescape`) become `\\xNN`, which tokenizers and the trajectory can take."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    if isinstance(value, list):
        return [printable(item) for item in value]
    if isinstance(value, dict):
        return {key: printable(item) for key, item in value.items()}
    return value
