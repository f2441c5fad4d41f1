"""Typed, frozen events the loop emits. Front doors and the trajectory writer subscribe to them.

Every event is also a trajectory record: `type` and `ts` come first in its JSON.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from qcode.agent.contracts import Channel, PlanStep, ToolCall, Usage

__all__ = [
    "Event",
    "EventBus",
    "SessionStarted",
    "TurnStarted",
    "TokenStreamed",
    "ModelTurn",
    "ToolCalled",
    "ObservationMade",
    "PlanUpdated",
    "Notice",
    "UserMessage",
    "CheckpointMade",
    "RolledBack",
    "Compacted",
    "RunFinished",
]


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: str
    ts: float = Field(default_factory=time.time)


class SessionStarted(_Event):
    type: Literal["session_started"] = "session_started"
    session_id: str
    repo: str
    base_commit: str
    branch: str
    workspace: str
    trajectory: str
    task: str
    engine: str


class TurnStarted(_Event):
    type: Literal["turn_started"] = "turn_started"
    step: int
    phase: Literal["planner", "executor"]


class TokenStreamed(_Event):
    type: Literal["token"] = "token"
    step: int
    text: str
    channel: Channel = "text"


class ModelTurn(_Event):
    """One engine call's result, including the raw text when the engine has it."""

    type: Literal["turn"] = "turn"
    step: int
    phase: Literal["planner", "executor"]
    text: str
    reasoning: str
    raw: str | None
    tool_calls: list[ToolCall]
    usage: Usage
    duration: float
    time_to_first_token: float | None = None


class ToolCalled(_Event):
    type: Literal["tool_call"] = "tool_call"
    step: int
    call_id: str
    name: str
    arguments: dict[str, Any]


class ObservationMade(_Event):
    """A tool's result: the text the model saw and whether the call succeeded."""

    type: Literal["observation"] = "observation"
    step: int
    call_id: str
    name: str
    ok: bool
    text: str
    data: dict[str, Any] = Field(default_factory=dict)
    duration: float = 0.0


class PlanUpdated(_Event):
    type: Literal["plan_updated"] = "plan_updated"
    step: int
    plan: list[PlanStep]


class Notice(_Event):
    """Something a person should see that is not a tool result (verification, a repair, a warning)."""

    type: Literal["notice"] = "notice"
    level: Literal["info", "warning", "error"] = "info"
    text: str


class UserMessage(_Event):
    """A user-role message appended to the model's history (task, follow-up, qcode notices)."""

    type: Literal["user_message"] = "user_message"
    text: str


class CheckpointMade(_Event):
    type: Literal["checkpoint"] = "checkpoint"
    step: int
    number: int
    commit: str
    label: str


class RolledBack(_Event):
    type: Literal["rolled_back"] = "rolled_back"
    number: int
    step: int
    diffstat: str


class Compacted(_Event):
    """Older observations were shortened to fit the context; what was dropped is recorded here."""

    type: Literal["compacted"] = "compacted"
    step: int
    before_tokens: int
    after_tokens: int
    dropped: list[dict[str, Any]]
    """Per shortened message: its index, tool name and the characters dropped."""


class RunFinished(_Event):
    type: Literal["finished"] = "finished"
    status: Literal["resolved", "unresolved", "error"]
    reason: str
    branch: str | None
    commit: str | None
    patch: str | None
    steps: int
    usage: Usage
    summary: str = ""
    trajectory: str = ""
    duration: float = 0.0


Event = Annotated[
    SessionStarted
    | TurnStarted
    | TokenStreamed
    | ModelTurn
    | ToolCalled
    | ObservationMade
    | PlanUpdated
    | Notice
    | UserMessage
    | CheckpointMade
    | RolledBack
    | Compacted
    | RunFinished,
    Field(discriminator="type"),
]

Subscriber = Callable[[Any], None]


class EventBus:
    """Fan-out of events to subscribers, in the order they subscribed."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    def emit(self, event: _Event) -> None:
        for subscriber in self._subscribers:
            subscriber(event)
