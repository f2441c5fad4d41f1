"""Rebuilding the model's messages from a trajectory: answers pair with calls by position."""

from __future__ import annotations

from pathlib import Path

from qcode.agent.contracts import NOT_RUN, ToolCall, Usage
from qcode.agent.events import ModelTurn, ObservationMade, UserMessage
from qcode.agent.sessions import history_from_trajectory
from qcode.agent.trajectory import TrajectoryWriter


def test_a_stopped_turn_answers_its_unrun_calls_in_call_order(tmp_path: Path) -> None:
    # [finish, shell]: shell ran (finish is deferred to last), then the run was stopped.
    calls = [ToolCall(id="c1", name="finish", arguments={"summary": "x"}), ToolCall(id="c2", name="shell")]
    path = tmp_path / "trajectory.jsonl"
    with TrajectoryWriter(path) as writer:
        writer(UserMessage(text="task"))
        writer(
            ModelTurn(
                step=1,
                phase="executor",
                text="",
                reasoning="",
                raw=None,
                tool_calls=calls,
                usage=Usage(),
                duration=0.0,
            )
        )
        writer(ObservationMade(step=1, call_id="c2", name="shell", ok=True, text="[exit code: 0]"))
        writer(UserMessage(text="follow-up"))
    messages, _ = history_from_trajectory(path)
    answers = [(m["tool_call_id"], m["content"]) for m in messages if m["role"] == "tool"]
    assert answers == [("c1", NOT_RUN), ("c2", "[exit code: 0]")]
    assert messages[-1] == {"role": "user", "content": "follow-up"}
