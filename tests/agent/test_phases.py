"""The planner–executor phases: the planner's calls are read-only, its plan frees the executor, and
a failed step or a stuck episode sends the loop back to planning."""

from __future__ import annotations

from pathlib import Path

from qcode.agent.events import EventBus, ObservationMade, PhaseChanged, TurnStarted
from qcode.agent.loop import AgentLoop, LoopLimits
from qcode.agent.phases import planner_tools
from qcode.tools.builtin import default_registry
from qcode.tools.registry import ToolContext

from tests.agent.scripted import NoSandbox, ScriptedEngine, call


def _plan(*steps: tuple[str, str]) -> str:
    return call("update_plan", plan=[{"step": step, "status": status} for step, status in steps])


EDIT = call("edit_file", path="a.txt", old_text="one", new_text="two")


def _run(tmp_path: Path, turns: list[str]) -> tuple[AgentLoop, list[object]]:
    (tmp_path / "a.txt").write_text("one\n")
    asked: list[str] = []  # a refused call is never put to the person for approval
    ctx = ToolContext(
        workspace=tmp_path,
        sandbox=NoSandbox(),
        diff=lambda path: "",
        approve=lambda request: asked.append(request.call.name),
    )
    loop = AgentLoop(ScriptedEngine(turns), default_registry(), ctx, EventBus(), LoopLimits())
    events: list[object] = [asked]
    seen: list[str] = []

    def record(event: object) -> None:
        events.append(event)
        if isinstance(event, ObservationMade):  # the file as it was right after each call
            seen.append((tmp_path / "a.txt").read_text())

    loop.bus.subscribe(record)
    loop.run("change one to two")
    events.append(seen)
    return loop, events


def _observations(events: list[object]) -> list[ObservationMade]:
    return [e for e in events if isinstance(e, ObservationMade)]


def test_the_planner_may_not_change_files_and_its_plan_frees_the_executor(tmp_path: Path) -> None:
    plan = _plan(("edit a.txt", "in_progress"), ("Done when: a.txt says two", "pending"))
    loop, events = _run(
        tmp_path,
        [
            EDIT,
            call("finish", summary="too soon"),
            call("read_file", path="a.txt"),
            plan,
            EDIT,
            call("finish", summary="done"),
        ],
    )
    answers = _observations(events)
    refused = answers[0]
    assert not refused.ok and refused.data["error"] == "planner_phase"
    assert "planner phase" in refused.text and "read_file" in refused.text and "update_plan" in refused.text
    assert "edit_file" not in refused.text.split("Tools you may call now:")[1].split(".")[0]
    assert events[-1][0] == "one\n"  # the refused edit did not touch the file
    assert not answers[1].ok and answers[1].data["error"] == "planner_phase"  # finish, too
    assert answers[2].ok  # reading is what the planner is for
    assert "executor phase begins" in answers[3].text
    assert answers[4].ok and (tmp_path / "a.txt").read_text() == "two\n"
    phases = [e.phase for e in events if isinstance(e, TurnStarted)]
    assert phases == ["planner"] * 4 + ["executor"] * 2
    assert [e.phase for e in events if isinstance(e, PhaseChanged)] == ["planner", "executor"]
    assert loop.outcome().finished
    assert events[0] == ["read_file", "update_plan", "edit_file", "finish"]  # asked: only what ran


def test_a_failed_step_returns_to_the_planner(tmp_path: Path) -> None:
    loop, events = _run(
        tmp_path,
        [
            _plan(("rewrite a.txt with sed", "in_progress")),
            _plan(("rewrite a.txt with sed", "failed")),  # sed is not there, say
            EDIT,  # refused: back in the planner phase
            _plan(("edit a.txt with edit_file", "in_progress")),
            EDIT,
            call("finish", summary="done"),
        ],
    )
    answers = _observations(events)
    assert "back to the planner phase" in answers[1].text and "rewrite a.txt with sed" in answers[1].text
    assert answers[2].data.get("error") == "planner_phase" and events[-1][2] == "one\n"
    assert answers[4].ok and (tmp_path / "a.txt").read_text() == "two\n"
    phases = [e.phase for e in events if isinstance(e, TurnStarted)]
    assert phases == ["planner", "executor", "planner", "planner", "executor", "executor"]


def test_a_stuck_episode_returns_to_the_planner(tmp_path: Path) -> None:
    missing = call("read_file", path="nope.txt")
    loop, events = _run(
        tmp_path,
        [
            _plan(("read nope.txt", "in_progress")),
            missing,
            missing,
            missing,
            EDIT,
            _plan(("edit", "in_progress")),
            EDIT,
            call("finish", summary="done"),
        ],
    )
    changes = [e for e in events if isinstance(e, PhaseChanged)]
    assert [c.phase for c in changes] == ["planner", "executor", "planner", "executor"]
    assert changes[2].reason == "the work got stuck"
    answers = _observations(events)
    assert answers[4].data.get("error") == "planner_phase"  # the edit right after the hint
    assert (tmp_path / "a.txt").read_text() == "two\n"


def test_follow_ups_with_a_plan_continue_in_the_executor(tmp_path: Path) -> None:
    loop, events = _run(tmp_path, [_plan(("edit", "in_progress")), EDIT, call("finish", summary="done")])
    loop.engine.turns = [
        call("edit_file", path="a.txt", old_text="two", new_text="three"),  # type: ignore[attr-defined]
        call("finish", summary="three"),
    ]
    loop.run("now three")
    assert (tmp_path / "a.txt").read_text() == "three\n"


def test_planner_tools_are_the_read_only_ones() -> None:
    names = planner_tools(default_registry())
    assert {"read_file", "list_files", "search", "git_diff", "repo_map", "update_plan"} <= set(names)
    assert not {"edit_file", "write_file", "shell", "finish"} & set(names)


def test_with_phases_off_every_tool_runs_from_the_first_call(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("one\n")
    ctx = ToolContext(workspace=tmp_path, sandbox=NoSandbox(), diff=lambda path: "")
    engine = ScriptedEngine([EDIT, call("finish", summary="done")])
    loop = AgentLoop(engine, default_registry(), ctx, EventBus(), LoopLimits(phases=False))
    assert loop.run("change it").finished and (tmp_path / "a.txt").read_text() == "two\n"
    assert loop.phase is None


def test_a_rollback_the_person_asked_for_plans_again_before_the_next_change(tmp_path: Path) -> None:
    loop, events = _run(tmp_path, [_plan(("edit", "in_progress")), EDIT, call("finish", summary="done")])
    note = loop.replan("the user undid the last 1 change(s)")  # what Session.undo does
    assert "back to the planner phase: the user undid" in note and loop.phase == "planner"
    loop.engine.turns = [  # type: ignore[attr-defined]
        call("edit_file", path="a.txt", old_text="two", new_text="three"),
        _plan(("edit again", "in_progress")),
        call("edit_file", path="a.txt", old_text="two", new_text="three"),
        call("finish", summary="three"),
    ]
    refused: list[ObservationMade] = []
    loop.bus.subscribe(lambda e: refused.append(e) if isinstance(e, ObservationMade) and not e.ok else None)
    loop.run("again")
    assert [e.data.get("error") for e in refused] == ["planner_phase"]
    assert (tmp_path / "a.txt").read_text() == "three\n"
