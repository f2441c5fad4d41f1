"""The finish stage (verify → commit → patch) and the loop's shell, against a scripted sandbox:
real git, no Docker."""

from __future__ import annotations

from pathlib import Path

from qcode.agent.contracts import ExecResult
from qcode.agent.events import EventBus, Notice, ObservationMade
from qcode.agent.finish import FinishStage
from qcode.agent.loop import AgentLoop, LoopLimits
from qcode.agent.workspace import Workspace, inspect_repo
from qcode.sandbox.scripted import ScriptedSandbox
from qcode.tools.builtin import default_registry
from qcode.tools.registry import ToolContext

from tests.agent.scripted import ScriptedEngine, call
from tests.conftest import committed_repo, git


def _stage(tmp_path: Path, sandbox: ScriptedSandbox, verify: str | None) -> tuple[FinishStage, list[object]]:
    repo = committed_repo(tmp_path / "repo", {"a.txt": "one\n"})
    workspace = Workspace(tmp_path / "session", inspect_repo(repo))
    (tmp_path / "session").mkdir()
    workspace.create("qcode/test")
    bus, events = EventBus(), []
    bus.subscribe(events.append)
    stage = FinishStage(workspace, sandbox, bus, "qcode/test", tmp_path / "out.patch", verify_command=verify)
    return stage, events


def test_a_failed_verification_makes_the_run_unresolved_but_keeps_the_work(tmp_path: Path) -> None:
    sandbox = ScriptedSandbox({"pytest -q": ExecResult(exit_code=1, output="1 failed")})
    stage, events = _stage(tmp_path, sandbox, "pytest -q")
    (stage.workspace.path / "a.txt").write_text("two\n")
    finished = stage.run("resolved", "finished", task="make it two\nmore words", summary="two")
    assert (finished.status, finished.reason) == ("unresolved", "verification failed: `pytest -q` exited 1")
    assert finished.verify is not None and finished.verify.output == "1 failed"
    assert sandbox.commands == ["pytest -q"]
    assert any(isinstance(e, Notice) and e.level == "warning" for e in events)
    repo = tmp_path / "repo"
    assert git(repo, "show", "qcode/test:a.txt") == "two\n"
    assert git(repo, "log", "-1", "--format=%s", "qcode/test").strip() == "qcode: make it two"
    assert "+two" in Path(finished.patch or "").read_text()


def test_a_run_that_changed_nothing_is_unresolved_and_verify_runs_only_when_resolved(tmp_path: Path) -> None:
    sandbox = ScriptedSandbox({"pytest -q": "ok"})
    stage, _ = _stage(tmp_path, sandbox, "pytest -q")
    finished = stage.run("resolved", "finished", task="nothing", summary="")
    assert (finished.status, finished.reason) == ("unresolved", "finished without changing any file")
    assert finished.commit is None and finished.patch is None
    stopped = stage.run("error", "step limit reached", task="nothing", summary="")
    assert stopped.status == "error" and stopped.verify is None and sandbox.commands == ["pytest -q"]


def test_the_loop_runs_commands_in_a_scripted_sandbox(tmp_path: Path) -> None:
    sandbox = ScriptedSandbox({"python -m pytest -q": ExecResult(exit_code=1, output="F\n1 failed")})
    ctx = ToolContext(workspace=tmp_path, sandbox=sandbox, diff=lambda path: "")
    engine = ScriptedEngine([call("shell", command="python -m pytest -q"), call("shell", command="make")])
    loop = AgentLoop(engine, default_registry(), ctx, EventBus(), LoopLimits())
    seen: list[ObservationMade] = []
    loop.bus.subscribe(lambda e: seen.append(e) if isinstance(e, ObservationMade) else None)
    loop.say("run the tests", source="user")
    loop.step("executor")
    loop.step("executor")
    assert sandbox.commands == ["python -m pytest -q", "make"]
    assert "1 failed" in seen[0].text and "exit code: 1" in seen[0].text
    assert "exit code: 127" in seen[1].text and "no answer for 'make'" in seen[1].text
