"""The planner–executor loop: query the engine, dispatch tool calls, append observations.

The history is append-only (the engine's prefix cache hits on every step) except for rare,
recorded compaction. Problems the model can fix become observations; only `finish`, the limits
and terminating errors end the loop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from pydantic import BaseModel, Field
from qcode.agent.compaction import apply_changes, compaction_changes, message_chars
from qcode.agent.contracts import Channel, Engine, Message, ToolCall, Turn, Usage, printable
from qcode.agent.conversation import EventLog
from qcode.agent.events import (
    Compacted,
    EventBase,
    EventBus,
    ModelTurn,
    ObservationMade,
    Phase,
    PhaseChanged,
    PlanUpdated,
    Source,
    TokenStreamed,
    ToolCalled,
    TurnStarted,
    UserMessage,
)
from qcode.agent.exceptions import ContextOverflow, Interrupted, LimitReached
from qcode.agent.phases import after_plan, planner_refusal, start_phase
from qcode.agent.recovery import Recovery
from qcode.prompts import render
from qcode.tools.builtin import FINISH, UPDATE_PLAN
from qcode.tools.registry import Approver, ToolContext, ToolRegistry

__all__ = ["AgentLoop", "Approver", "LoopLimits", "LoopOutcome", "Phase"]


class LoopLimits(BaseModel):
    max_steps: int = 50
    """Model calls per run, the planner's included."""
    max_tokens: int = 4_000_000
    """Prompt plus completion tokens per run."""
    max_wall_seconds: float = 3600.0
    context_tokens: int = 131_072
    """The engine's context length (engines that know theirs override it)."""
    compact_at: float = 0.8
    """Compact the history when a prompt would exceed this share of the context."""
    phases: bool = True
    """Planner–executor phases (agent/phases.py); off, every tool runs from the first call."""


class LoopOutcome(BaseModel):
    finished: bool
    """True when the model called `finish`."""
    summary: str = ""
    steps: int = 0
    usage: Usage = Field(default_factory=Usage)


class AgentLoop:
    def __init__(
        self,
        engine: Engine,
        registry: ToolRegistry,
        ctx: ToolContext,
        bus: EventBus,
        limits: LoopLimits,
        recovery: Recovery | None = None,
        cancelled: threading.Event | None = None,
    ) -> None:
        self.engine, self.registry, self.ctx, self.bus, self.limits = engine, registry, ctx, bus, limits
        self.recovery = recovery or Recovery(None, bus)
        self.cancelled = cancelled or threading.Event()
        self.log = EventLog(render("system", phases=limits.phases))
        """The conversation: every message the model sees is derived from these events."""
        self.phase: Phase | None = None
        """The current phase; None before the first run."""
        self.steps = 0
        """Model calls in the current run (limits count per run)."""
        self.total_steps = 0
        """Model calls over the whole session: checkpoints and stuck detection use this clock."""
        self.usage = Usage()
        self._started = time.monotonic()
        self._summary: str | None = None
        self._tokens_per_char = 0.25
        """Calibrated from the engine's real prompt counts; 4 characters a token until then."""

    @property
    def messages(self) -> list[Message]:
        """The chat messages the engine is sent, derived from the event log."""
        return self.log.messages()

    def restore(self, events: Iterable[object], clock: int = 0) -> None:
        """Continue a past session: its recorded events go through the same `_apply` as live
        ones (they are not emitted again: they are in the trajectory already). `clock` is the
        least step count to continue from (the session's checkpoints were taken on it)."""
        for event in events:
            self._apply(event)
        self.total_steps = max(self.total_steps, clock)

    def _record(self, event: EventBase) -> None:
        """The one way the loop's state changes: apply the event, then tell the subscribers."""
        self._apply(event)
        self.bus.emit(event)

    def _apply(self, event: object) -> None:
        self.log.append(event)
        if isinstance(event, TurnStarted):
            self.total_steps += 1
        elif isinstance(event, PlanUpdated):
            self.ctx.plan = list(event.plan)
        elif isinstance(event, PhaseChanged):
            self.phase = event.phase

    def run(self, user_message: str) -> LoopOutcome:
        """Plan, then execute until `finish`; a later call continues the same history.

        Limits count per run. Raises TerminatingError subclasses for limits, interrupts and fatal errors.
        """
        self.say(user_message, source="user")
        self.steps, self.usage, self._summary = 0, Usage(), None
        self._started = time.monotonic()
        if self.limits.phases:
            self._enter(start_phase(self.ctx.plan, self.phase))
        while self._summary is None:
            self.step(self.phase or "executor")
        return LoopOutcome(finished=True, summary=self._summary, steps=self.steps, usage=self.usage)

    def replan(self, reason: str) -> str:
        """Send the loop back to the planner phase (a rollback the person asked for); returns the
        instructions to give the model with the news ('' when the phases are off)."""
        if not self.limits.phases:
            return ""
        if self.phase != "planner":
            self._record(PhaseChanged(phase="planner", reason=reason))
        return render("replan", reason=reason)

    def _enter(self, phase: Phase) -> None:
        if phase == self.phase:
            return
        if phase == "executor":
            reason = "a plan to work"
        else:
            reason = "no plan yet" if not self.ctx.plan else "the plan has a failed step"
        self._record(PhaseChanged(phase=phase, reason=reason))

    @property
    def first_run(self) -> bool:
        """True until the session's first message: that run gets the full task prompt."""
        return self.log.empty

    def outcome(self) -> LoopOutcome:
        """The state so far, for runs that ended early."""
        return LoopOutcome(
            finished=self._summary is not None,
            summary=self._summary or "",
            steps=self.steps,
            usage=self.usage,
        )

    def say(self, text: str, source: Source = "qcode") -> None:
        """Append a user-role message (the person's task or follow-up, or a qcode notice)."""
        text = printable(text)  # the overview and repo map hold file names, which may not be UTF-8
        self._record(UserMessage(text=text, source=source))

    def step(self, phase: Phase) -> None:
        """One model call and its tool calls, under `phase`'s rules."""
        turn = _refuse_truncated_calls(self.query(phase))
        if not turn.tool_calls:
            self.say(render("nudge"))
            return
        self.recovery.before_calls(self.total_steps, turn.tool_calls)
        notices: list[str] = []
        stop: LimitReached | None = None
        # Every call of the turn gets an answer, even when the run must end, so the history stays
        # well-formed for a follow-up: a call that never runs is answered `NOT_RUN` by the log.
        # `finish` runs last, after the other calls of the same turn.
        for call in sorted(turn.tool_calls, key=lambda c: c.name == FINISH):
            if self.cancelled.is_set() or stop is not None:
                continue
            try:
                notice = self.execute(call)
            except LimitReached as err:
                stop = err
                continue
            if notice:
                notices.append(notice)
        if stop is not None:
            raise stop
        if notices and self._summary is None:
            self.say("\n".join(notices))

    def query(self, phase: Phase) -> Turn:
        self._check_limits()
        prompt_chars = self._fit_context()
        self.steps += 1
        step = self.steps
        self._record(TurnStarted(step=step, phase=phase))
        try:
            turn = self._complete(step)
        except ContextOverflow:
            self._compact()
            prompt_chars = message_chars(self.messages)
            turn = self._complete(step)
        self.usage = self.usage + turn.usage
        if turn.usage.prompt_tokens:
            self._tokens_per_char = turn.usage.prompt_tokens / max(1, prompt_chars)
        self._record(
            ModelTurn(
                step=step,
                phase=phase,
                text=turn.text,
                reasoning=turn.reasoning,
                raw=turn.raw,
                tool_calls=turn.tool_calls,
                usage=turn.usage,
                duration=turn.duration,
                time_to_first_token=turn.time_to_first_token,
            )
        )
        return turn

    def _complete(self, step: int) -> Turn:
        def on_token(text: str, channel: Channel) -> None:
            # Esc and the time limit end a long generation mid-turn: the exception propagates
            # through the engine, which aborts the request; the history has no half-written turn.
            self._check_interrupted()
            self._check_wall_time()
            self.bus.emit(TokenStreamed(step=step, text=text, channel=channel))

        return self.engine.complete(self.messages, self.registry.schemas(), on_token=on_token)

    def execute(self, call: ToolCall) -> str | None:
        """Run one call and record its observation; returns a recovery notice for the model, if any.
        In the planner phase a call that is not read-only is answered without running. The phase
        is the loop's current one: a plan recorded by a turn's first call frees the calls after it."""
        phase = self.phase
        self._record(ToolCalled(step=self.steps, call_id=call.id, name=call.name, arguments=call.arguments))
        refused = planner_refusal(call, self.registry) if phase == "planner" else None
        raw = refused or self.registry.dispatch(call, self.ctx)  # file names in it may not be UTF-8
        text = as_the_model_sees_it(call.name, printable(raw.text))
        change = None
        if phase is not None and call.name == UPDATE_PLAN and raw.ok:
            change = after_plan(phase, self.ctx.plan)
        if change is not None:  # the phase's instructions ride on the answer that changed it
            text = f"{text}\n\n{change[1]}"
        self._record(
            ObservationMade(
                step=self.steps,
                call_id=call.id,
                name=call.name,
                ok=raw.ok,
                text=text,
                data=printable(raw.data),
                duration=float(raw.data.get("duration", 0.0)),
            )
        )
        if call.name == UPDATE_PLAN and raw.ok:
            self._record(PlanUpdated(step=self.steps, plan=self.ctx.plan))
        if change is not None:
            self._record(PhaseChanged(phase=change[0], reason=_first_line(change[1])))
        if call.name == FINISH and raw.ok:
            self._summary = str(raw.data.get("finish", ""))
            return None
        observation = raw.model_copy(update={"text": text})
        notice = self.recovery.after_call(self.total_steps, call, observation)
        if notice is not None and phase == "executor":  # stuck, or rolled back: plan again
            notice = f"{notice}\n\n{self.replan('the work got stuck')}"
        return notice

    def _check_limits(self) -> None:
        self._check_interrupted()
        if self.steps >= self.limits.max_steps:
            raise LimitReached(f"step limit reached ({self.limits.max_steps} model calls)")
        spent = self.usage.prompt_tokens + self.usage.completion_tokens
        if spent >= self.limits.max_tokens:
            raise LimitReached(f"token limit reached ({spent} of {self.limits.max_tokens})")
        self._check_wall_time()

    def _check_interrupted(self) -> None:
        if self.cancelled.is_set():
            raise Interrupted("interrupted by the user")

    def _check_wall_time(self) -> None:
        elapsed = time.monotonic() - self._started
        if elapsed >= self.limits.max_wall_seconds:
            raise LimitReached(f"time limit reached ({elapsed:.0f}s of {self.limits.max_wall_seconds:.0f}s)")

    def _estimated_tokens(self) -> int:
        return int(message_chars(self.messages) * self._tokens_per_char)

    def _fit_context(self) -> int:
        """Compact when the history nears the context; returns the size, in characters, of the
        history about to be sent (serialising it is O(history): done once per step, not twice)."""
        chars = message_chars(self.messages)
        if int(chars * self._tokens_per_char) > self.limits.compact_at * self.limits.context_tokens:
            self._compact()
            chars = message_chars(self.messages)
        return chars

    def _compact(self) -> None:
        """Shorten old observations, keeping fewer recent ones until the history is back under half
        the context; when nothing is left to shorten the run cannot continue. The `Compacted`
        event records each replaced message by its event's id: a resume derives the same history."""
        before = self._estimated_tokens()
        entries = self.log.entries()
        messages = [message for _, message in entries]
        target = self.limits.context_tokens / 2
        for drop_old_turns, keep_recent in ((False, 6), (False, 3), (False, 1), (True, 6), (True, 2)):
            changes, dropped = compaction_changes(
                messages, keep_recent=keep_recent, drop_old_turns=drop_old_turns
            )
            if message_chars(apply_changes(messages, changes)) * self._tokens_per_char <= target:
                break
        if not dropped:
            raise LimitReached(
                f"the conversation no longer fits the model's context ({before} tokens), even compacted"
            )
        replaced = {entries[index][0]: message for index, message in changes.items()}
        after = int(message_chars(apply_changes(messages, changes)) * self._tokens_per_char)
        self._record(
            Compacted(
                step=self.steps, before_tokens=before, after_tokens=after, dropped=dropped, replaced=replaced
            )
        )
        plan = "\n".join(f"- [{s.status}] {s.step}" for s in self.ctx.plan) or "(no plan yet)"
        self.say(render("compacted", plan=plan, files=_changed_files(self.ctx.diff(None))))


def as_the_model_sees_it(tool: str, text: str) -> str:
    """The chat template trims each tool result: trailing whitespace is dropped here (so the
    recorded text is what the model saw) and a result that starts with whitespace gets a header
    line, so its first line keeps its indentation."""
    text = text.rstrip()
    return f"[{tool}]\n{text}" if text[:1].isspace() else text


def _first_line(text: str) -> str:
    return text.split(". ", 1)[0].split("\n", 1)[0][:200]


def _changed_files(diff: str) -> str:
    files = [line.removeprefix("+++ b/") for line in diff.splitlines() if line.startswith("+++ b/")]
    return "\n".join(f"- {name}" for name in files) or "(no files changed yet)"


def _refuse_truncated_calls(turn: Turn) -> Turn:
    """A call 'repaired' because generation hit the token limit is cut off, not just unclosed:
    running a half-written file would do harm, so the model is asked to resend it."""
    if turn.finish_reason != "length":
        return turn
    problem = (
        "Your reply was cut off by the output token limit inside this call, so its arguments are "
        "incomplete and it was not run. Send it again, shorter (split a big write_file into several "
        "edit_file calls)."
    )
    calls = [
        call.model_copy(update={"problem": problem}) if call.repaired else call for call in turn.tool_calls
    ]
    return turn.model_copy(update={"tool_calls": calls})
