"""Typed, frozen events the loop emits. Front doors and the trajectory writer subscribe to them.

Every event is also a trajectory record: `type` and `ts` come first in its JSON.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from qcode.agent.contracts import (
    Channel,
    Message,
    PlanStep,
    ToolCall,
    Turn,
    Usage,
    assistant_message,
    tool_message,
)

__all__ = [
    "EVENT",
    "Event",
    "EventBase",
    "EventBus",
    "Phase",
    "PhaseChanged",
    "Source",
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


Source = Literal["agent", "user", "qcode", "environment"]
"""Who an event comes from: the model, the person, qcode itself, or the world a tool touched."""

Phase = Literal["planner", "executor"]


def _new_id() -> str:
    return uuid.uuid4().hex[:16]


class EventBase(BaseModel):
    """What every event has: its record type, time, id and source, and its chat message if any."""

    model_config = ConfigDict(frozen=True)

    type: str
    ts: float = Field(default_factory=time.time)
    id: str = Field(default_factory=_new_id)
    """Unique in its session; records written before ids existed get a fresh one when read."""
    source: Source = "qcode"

    def message(self) -> Message | None:
        """The chat message this event is, or None when the model never sees it."""
        return None


class SessionStarted(EventBase):
    type: Literal["session_started"] = "session_started"
    session_id: str
    repo: str
    base_commit: str
    branch: str
    workspace: str
    trajectory: str
    task: str
    engine: str


class TurnStarted(EventBase):
    type: Literal["turn_started"] = "turn_started"
    source: Source = "agent"
    step: int
    phase: Phase


class TokenStreamed(EventBase):
    type: Literal["token"] = "token"
    source: Source = "agent"
    step: int
    text: str
    channel: Channel = "text"


class ModelTurn(EventBase):
    """One engine call's result, including the raw text when the engine has it."""

    type: Literal["turn"] = "turn"
    source: Source = "agent"
    step: int
    phase: Phase
    text: str
    reasoning: str
    raw: str | None
    tool_calls: list[ToolCall]
    usage: Usage
    duration: float
    time_to_first_token: float | None = None

    def message(self) -> Message:
        turn = Turn(text=self.text, reasoning=self.reasoning, tool_calls=self.tool_calls, raw=self.raw)
        return assistant_message(turn)


class ToolCalled(EventBase):
    type: Literal["tool_call"] = "tool_call"
    source: Source = "agent"
    step: int
    call_id: str
    name: str
    arguments: dict[str, Any]


class ObservationMade(EventBase):
    """A tool's result: the text the model saw and whether the call succeeded."""

    type: Literal["observation"] = "observation"
    source: Source = "environment"
    step: int
    call_id: str
    name: str
    ok: bool
    text: str
    data: dict[str, Any] = Field(default_factory=dict)
    duration: float = 0.0

    def message(self) -> Message:
        return tool_message(self.call_id, self.name, self.text)


class PlanUpdated(EventBase):
    type: Literal["plan_updated"] = "plan_updated"
    step: int
    plan: list[PlanStep]


class Notice(EventBase):
    """Something a person should see that is not a tool result (verification, a repair, a warning)."""

    type: Literal["notice"] = "notice"
    level: Literal["info", "warning", "error"] = "info"
    text: str


class UserMessage(EventBase):
    """A user-role message appended to the model's history: the person's task or follow-up
    (source `user`), or qcode's own notices and phase instructions (source `qcode`)."""

    type: Literal["user_message"] = "user_message"
    source: Source = "user"
    text: str

    def message(self) -> Message:
        return {"role": "user", "content": self.text}


class PhaseChanged(EventBase):
    """The loop moved between planning (read-only tools) and executing the plan."""

    type: Literal["phase"] = "phase"
    phase: Phase
    reason: str


class CheckpointMade(EventBase):
    type: Literal["checkpoint"] = "checkpoint"
    step: int
    number: int
    commit: str
    label: str


class RolledBack(EventBase):
    type: Literal["rolled_back"] = "rolled_back"
    number: int
    step: int
    diffstat: str


class Compacted(EventBase):
    """Older observations were shortened to fit the context; what was dropped is recorded here."""

    type: Literal["compacted"] = "compacted"
    step: int
    before_tokens: int
    after_tokens: int
    dropped: list[dict[str, Any]]
    """Per shortened message: its index, tool name and the characters dropped."""
    replaced: dict[str, Message | None] = Field(default_factory=dict)
    """Per event id whose message changed: the message the model sees from now on (None: removed).
    A resumed session derives the same compacted history from it (empty in older trajectories)."""


class RunFinished(EventBase):
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
    | PhaseChanged
    | CheckpointMade
    | RolledBack
    | Compacted
    | RunFinished,
    Field(discriminator="type"),
]

EVENT: TypeAdapter[Event] = TypeAdapter(Event)
"""Parses one trajectory record into its typed event."""

Subscriber = Callable[[Any], None]


class EventBus:
    """Fan-out of events to subscribers, in the order they subscribed."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    def emit(self, event: EventBase) -> None:
        for subscriber in self._subscribers:
            subscriber(event)
