"""The planner–executor loop: query the engine, dispatch tool calls, append observations.

The history is append-only (the engine's prefix cache hits on every step). Problems the model can
fix become observations; only `finish`, the limits and terminating errors end the loop.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Literal

from pydantic import BaseModel, Field

from qcode.agent.contracts import Engine, Message, ToolCall, Turn, Usage
from qcode.agent.events import EventBus, ModelTurn, ObservationMade, PlanUpdated, TokenStreamed, ToolCalled, TurnStarted
from qcode.agent.exceptions import Interrupted, LimitReached
from qcode.prompts import render
from qcode.tools.builtin import FINISH, UPDATE_PLAN
from qcode.tools.registry import Approver, ToolContext, ToolRegistry

__all__ = ["AgentLoop", "Approver", "LoopLimits", "LoopOutcome"]

Phase = Literal["planner", "executor"]


class LoopLimits(BaseModel):
    max_steps: int = 50
    """Model calls, the planner's included."""
    max_tokens: int = 4_000_000
    """Prompt plus completion tokens."""
    max_wall_seconds: float = 3600.0


class LoopOutcome(BaseModel):
    finished: bool
    """True when the model called `finish`."""
    summary: str = ""
    steps: int = 0
    usage: Usage = Field(default_factory=Usage)


class AgentLoop:
    def __init__(self, engine: Engine, registry: ToolRegistry, ctx: ToolContext, bus: EventBus,
                 limits: LoopLimits, cancelled: threading.Event | None = None) -> None:
        self.engine, self.registry, self.ctx, self.bus, self.limits = engine, registry, ctx, bus, limits
        self.cancelled = cancelled or threading.Event()
        self.messages: list[Message] = []
        self.steps = 0
        self.usage = Usage()
        self._started = time.monotonic()
        self._summary: str | None = None

    def run(self, user_message: str) -> LoopOutcome:
        """Plan, then execute until `finish`; a later call continues the same history.

        Limits count per run. Raises TerminatingError subclasses for limits, interrupts and fatal errors.
        """
        if not self.messages:
            self.messages.append({"role": "system", "content": render("system")})
        self.messages.append({"role": "user", "content": user_message})
        self.steps, self.usage, self._summary = 0, Usage(), None
        self._started = time.monotonic()
        self.step("planner")
        while self._summary is None:
            self.step("executor")
        return LoopOutcome(finished=True, summary=self._summary, steps=self.steps, usage=self.usage)

    def outcome(self) -> LoopOutcome:
        """The state so far, for runs that ended early."""
        return LoopOutcome(finished=self._summary is not None, summary=self._summary or "",
                           steps=self.steps, usage=self.usage)

    def step(self, phase: Phase) -> None:
        turn = self.query(phase)
        self.messages.append(_assistant_message(turn))
        if not turn.tool_calls:
            self.messages.append({"role": "user", "content": render("nudge")})
            return
        # `finish` runs last, after the other calls of the same turn.
        for call in sorted(turn.tool_calls, key=lambda c: c.name == FINISH):
            if self.cancelled.is_set():
                # Every call of the turn gets an answer, so the history stays well-formed.
                self._answer(call, "Not run: the user interrupted this step.")
                continue
            self.execute(call)

    def query(self, phase: Phase) -> Turn:
        self._check_limits()
        self.steps += 1
        step = self.steps
        self.bus.emit(TurnStarted(step=step, phase=phase))
        turn = self.engine.complete(self.messages, self.registry.schemas(),
                                    on_token=lambda text: self.bus.emit(TokenStreamed(step=step, text=text)))
        self.usage = self.usage + turn.usage
        self.bus.emit(ModelTurn(step=step, phase=phase, text=turn.text, reasoning=turn.reasoning, raw=turn.raw,
                                tool_calls=turn.tool_calls, usage=turn.usage, duration=turn.duration,
                                time_to_first_token=turn.time_to_first_token))
        return turn

    def _answer(self, call: ToolCall, text: str) -> None:
        self.messages.append({"role": "tool", "tool_call_id": call.id, "name": call.name, "content": text})

    def execute(self, call: ToolCall) -> None:
        self.bus.emit(ToolCalled(step=self.steps, call_id=call.id, name=call.name, arguments=call.arguments))
        observation = self.registry.dispatch(call, self.ctx)
        self.bus.emit(ObservationMade(step=self.steps, call_id=call.id, name=call.name, ok=observation.ok,
                                      text=observation.text, data=observation.data,
                                      duration=float(observation.data.get("duration", 0.0))))
        self._answer(call, observation.text)
        if call.name == UPDATE_PLAN and observation.ok:
            self.bus.emit(PlanUpdated(step=self.steps, plan=self.ctx.plan))
        if call.name == FINISH and observation.ok:
            self._summary = str(observation.data.get("finish", ""))

    def _check_limits(self) -> None:
        if self.cancelled.is_set():
            raise Interrupted("interrupted by the user")
        if self.steps >= self.limits.max_steps:
            raise LimitReached(f"step limit reached ({self.limits.max_steps} model calls)")
        spent = self.usage.prompt_tokens + self.usage.completion_tokens
        if spent >= self.limits.max_tokens:
            raise LimitReached(f"token limit reached ({spent} of {self.limits.max_tokens})")
        elapsed = time.monotonic() - self._started
        if elapsed >= self.limits.max_wall_seconds:
            raise LimitReached(f"time limit reached ({elapsed:.0f}s of {self.limits.max_wall_seconds:.0f}s)")


def _assistant_message(turn: Turn) -> Message:
    message: dict[str, Any] = {"role": "assistant", "content": turn.text}
    if turn.reasoning:
        message["reasoning_content"] = turn.reasoning
    if turn.tool_calls:
        message["tool_calls"] = [
            {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
            for call in turn.tool_calls
        ]
    return message
