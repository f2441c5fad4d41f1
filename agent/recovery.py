"""Recovery: checkpoints before file-changing steps, and a stuck response that escalates.

Response to being stuck, in order: a targeted hint; then roll back the workspace to the last
checkpoint before the repetition began and ask for a new plan; only then stop with a reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from qcode.agent.checkpoints import Checkpoint, Checkpoints
from qcode.agent.contracts import Effect, Observation, ToolCall
from qcode.agent.events import CheckpointMade, EventBus, Notice, RolledBack
from qcode.agent.exceptions import LimitReached
from qcode.agent.policy import changes_files
from qcode.agent.stuck import Action, StuckDetector, StuckSignal, action_key, error_key
from qcode.tools.builtin import builtin_effect

__all__ = ["Recovery"]

_HINTS = {
    "repeated_action": "You have made the same call several times with the same result. It will not "
    "change. Step back: re-read the relevant code, or try a different approach.",
    "repeated_error": "The same error keeps coming back. Read it carefully, check your assumptions "
    "(file paths, exact text, command syntax) and change the call before retrying.",
    "cycle": "You are going around in a cycle of the same calls. Stop repeating it: decide what "
    "information you are missing and get it differently, or change the plan.",
}


class Recovery:
    def __init__(
        self,
        checkpoints: Checkpoints | None,
        bus: EventBus,
        effect_of: Callable[[str], Effect] = builtin_effect,
    ) -> None:
        self.checkpoints = checkpoints
        self.effect_of = effect_of
        """The session's tools' declared effects (`ToolRegistry.effect_of`): a checkpoint is taken
        before a step that calls a tool that may change files (policy.changes_files)."""
        self.bus = bus
        self.detector = StuckDetector()
        self.level = 0
        """0: not stuck; 1: hinted; 2: rolled back. The next signal stops the run."""
        self._quiet_calls = 0
        self._episode_start = 0
        """The step where the first repetition of this stuck episode began."""

    def before_calls(self, step: int, calls: Sequence[ToolCall]) -> None:
        changing = sorted({call.name for call in calls if changes_files(self.effect_of(call.name))})
        if self.checkpoints is None or not changing:
            return
        label = ", ".join(changing)
        made = self.checkpoints.snapshot(step, label)
        if made is not None:
            self.bus.emit(CheckpointMade(step=step, number=made.number, commit=made.commit, label=made.label))

    def after_call(self, step: int, call: ToolCall, observation: Observation) -> str | None:
        """Record the call; returns a message for the model when it is stuck (or raises to stop)."""
        action = Action(
            step=step,
            key=action_key(call.name, call.arguments),
            ok=observation.ok,
            # An edit that broke a file's syntax has a stable key (see tools/checks.py), so
            # breaking the same file again counts as the same error, however the edits differ.
            error=""
            if observation.ok
            else error_key(str(observation.data.get("stuck_key") or observation.text)),
        )
        signal = self.detector.record(action)
        if signal is None:
            self._quiet_calls += 1
            if self._quiet_calls >= 8:  # a long stretch without repetition: progress again
                self.level = 0
            return None
        self._quiet_calls = 0
        self.level += 1
        return self._respond(signal)

    def _respond(self, signal: StuckSignal) -> str:
        if self.level == 1:
            self._episode_start = signal.since_step
            self.bus.emit(Notice(level="warning", text=f"stuck ({signal.detail}); hinting"))
            return f"qcode notice: {signal.detail}. {_HINTS[signal.kind]}"
        if self.level == 2:
            # Everything since the episode began is suspect, not just the latest repetition.
            restored = self._roll_back(self._episode_start)
            where = (
                f"the checkpoint taken before step {restored.step}"
                if restored
                else "the state before this repetition"
            )
            return (
                f"qcode notice: still stuck ({signal.detail}). The workspace was rolled back to {where}; "
                "changes made since are gone. Make a new plan for the remaining work with "
                "`update_plan`, using a different approach, then continue."
            )
        raise LimitReached(f"stuck: {signal.detail}, after a hint and a rollback")

    def _roll_back(self, since_step: int) -> Checkpoint | None:
        if self.checkpoints is None:
            return None
        candidates = [c for c in self.checkpoints.all() if c.step <= since_step]
        if not candidates:
            return None
        target = candidates[-1]
        stat = self.checkpoints.restore(target)
        self.bus.emit(RolledBack(number=target.number, step=target.step, diffstat=stat))
        return target
