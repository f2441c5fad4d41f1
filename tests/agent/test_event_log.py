"""The event log is the conversation: a loop restored from a trajectory sends the engine exactly
the messages the live loop would have sent, compaction and unanswered calls included."""

from __future__ import annotations

import json
from pathlib import Path

from qcode.agent.contracts import NOT_RUN
from qcode.agent.events import Compacted, EventBus, ObservationMade, UserMessage
from qcode.agent.loop import AgentLoop, LoopLimits
from qcode.agent.sessions import history_from_trajectory
from qcode.agent.trajectory import TrajectoryWriter, load_events
from qcode.tools.builtin import default_registry
from qcode.tools.registry import ToolContext

from tests.agent.scripted import NoSandbox, ScriptedEngine, call

PLAN = call("update_plan", plan=[{"step": "read", "status": "in_progress"}, {"step": "Done when: read"}])


def _loop(workspace: Path, engine: ScriptedEngine, writer: TrajectoryWriter | None = None) -> AgentLoop:
    ctx = ToolContext(workspace=workspace, sandbox=NoSandbox(), diff=lambda path: "")
    bus = EventBus()
    if writer is not None:
        bus.subscribe(writer)
    return AgentLoop(engine, default_registry(), ctx, bus, LoopLimits())


def _workspace(tmp_path: Path) -> Path:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "big.txt").write_text("".join(f"line {i} of a long file\n" for i in range(400)))
    for i in range(8):
        (workspace / f"s{i}.txt").write_text(f"small {i}\n")
    return workspace


def test_a_compacted_session_restores_to_the_same_compacted_messages(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path)
    turns = [PLAN, call("read_file", path="big.txt")]
    turns += [call("read_file", path=f"s{i}.txt") for i in range(7)]
    turns += [call("finish", summary="read")]
    # The conversation outgrows the "server" before `finish`: the loop compacts and retries.
    engine = ScriptedEngine(turns, context_chars=18_900)
    trajectory = tmp_path / "trajectory.jsonl"
    with TrajectoryWriter(trajectory) as writer:
        live = _loop(workspace, engine, writer)
        live.run("read the files")

    compacted = [e for e in load_events(trajectory) if isinstance(e, Compacted)]
    assert len(compacted) == 1 and compacted[0].replaced  # the replaced events, by id
    sent_after = engine.received[-1]
    big = [m for m in sent_after if m["role"] == "tool" and m["name"] == "read_file"][0]
    assert "compacted by qcode" in big["content"] and "line 399" not in json.dumps(sent_after)

    restored = _loop(workspace, ScriptedEngine([]))
    restored.restore(load_events(trajectory))
    assert restored.messages == live.messages  # token for token: the prefix cache still serves it
    assert restored.ctx.plan == live.ctx.plan and restored.total_steps == live.total_steps
    assert restored.phase == live.phase == "executor"
    history, plan = history_from_trajectory(trajectory)
    assert history == live.messages[1:] and plan == live.ctx.plan


def test_dropped_turns_restore_the_same_way(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path)
    turns = [PLAN] + [call("read_file", path=f"s{i % 8}.txt", start_line=1 + i // 8) for i in range(12)]
    trajectory = tmp_path / "trajectory.jsonl"
    with TrajectoryWriter(trajectory) as writer:
        live = _loop(workspace, ScriptedEngine(turns), writer)
        live.say("task", source="user")
        for _ in turns:
            live.step("executor")
        live.limits = LoopLimits(context_tokens=400)  # nothing but dropping old turns fits now
        live._compact()
    assert any("earlier turns" in str(m["content"]) for m in live.messages)
    restored = _loop(workspace, ScriptedEngine([]))
    restored.restore(load_events(trajectory))
    assert restored.messages == live.messages


def test_unrun_calls_are_answered_in_call_order_live_and_restored(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path)
    both = "\n".join([call("finish", summary="x"), call("read_file", path="s1.txt")])
    trajectory = tmp_path / "trajectory.jsonl"
    with TrajectoryWriter(trajectory) as writer:
        live = _loop(workspace, ScriptedEngine([both]), writer)
        live.say("go", source="user")
        # Esc once the read ran: `finish` (which runs last) never runs.
        live.bus.subscribe(lambda e: live.cancelled.set() if isinstance(e, ObservationMade) else None)
        live.step("executor")
    answers = [(m["tool_call_id"], m["content"]) for m in live.messages if m["role"] == "tool"]
    assert answers == [("call_0", NOT_RUN), ("call_1", "s1.txt, lines 1-1:\n     1\tsmall 1")]
    restored = _loop(workspace, ScriptedEngine([]))
    restored.restore(load_events(trajectory))
    assert restored.messages == live.messages


def test_old_trajectories_without_ids_still_resume(tmp_path: Path) -> None:
    """Records written before events had ids and sources, and a last line cut by SIGKILL."""
    records = [
        {
            "type": "session_started",
            "ts": 1.0,
            "session_id": "s",
            "repo": "/r",
            "base_commit": "c",
            "branch": "b",
            "workspace": "/w",
            "trajectory": "/t",
            "task": "t",
            "engine": "replay",
        },
        {"type": "user_message", "ts": 1.0, "text": "the task"},
        {"type": "turn_started", "ts": 1.0, "step": 1, "phase": "planner"},
        {
            "type": "turn",
            "ts": 1.0,
            "step": 1,
            "phase": "planner",
            "text": "",
            "reasoning": "",
            "raw": "r",
            "tool_calls": [{"id": "call_0", "name": "update_plan", "arguments": {"plan": [{"step": "a"}]}}],
            "usage": {},
            "duration": 0.1,
        },
        {
            "type": "observation",
            "ts": 1.0,
            "step": 1,
            "call_id": "call_0",
            "name": "update_plan",
            "ok": True,
            "text": "Plan updated:\n[ ] a",
        },
        {"type": "plan_updated", "ts": 1.0, "step": 1, "plan": [{"step": "a", "status": "pending"}]},
        {"type": "compacted", "ts": 1.0, "step": 1, "before_tokens": 9, "after_tokens": 5, "dropped": []},
        {"type": "some_future_record", "ts": 1.0},
    ]
    path = tmp_path / "trajectory.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + '{"type": "user_mess')
    with TrajectoryWriter(path) as writer:  # the resumed process appends after the cut line
        writer(UserMessage(text="go on"))
    loop = _loop(tmp_path, ScriptedEngine([]))
    loop.restore(load_events(path))
    assert [m["role"] for m in loop.messages] == ["system", "user", "assistant", "tool", "user"]
    assert loop.messages[2]["raw"] == "r" and loop.ctx.plan[0].step == "a"
    assert not loop.first_run and loop.total_steps == 1


def test_events_carry_an_id_and_a_source() -> None:
    first, second = UserMessage(text="a"), UserMessage(text="a", source="qcode")
    assert first.id != second.id and (first.source, second.source) == ("user", "qcode")
    assert first.message() == {"role": "user", "content": "a"}
    assert json.loads(first.model_dump_json())["type"] == "user_message"
