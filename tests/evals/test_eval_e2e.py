"""`qcode eval` end to end with real Docker and git: held-out tasks (packages outside the suite),
the gold engine with and without faults, a wrong gold patch, resume, the report."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from qcode.evals.builder import unified_diff
from qcode.evals.repos import materialize
from qcode.evals.tasks import dump_tasks, load_tasks

from tests.e2e.helpers import run_qcode

pytestmark = pytest.mark.docker
HELDOUT = Path(__file__).parent / "data" / "heldout.jsonl"


def _suite_packages() -> set[str]:
    suite = Path(__file__).parents[2] / "evals" / "suites" / "offline.jsonl"
    return {json.loads(line)["repo"] for line in suite.read_text().splitlines() if line.strip()}


def _wrong_gold(tmp_path: Path) -> Path:
    """The held-out tasks plus one whose gold patch touches the buggy file without fixing it."""
    tasks = load_tasks(HELDOUT)
    wrong = tasks[0].model_copy(update={"instance_id": tasks[0].instance_id + "-wrong"})
    path = wrong.mutation["path"]  # type: ignore[attr-defined]
    base = tmp_path / "wrong-base"
    materialize(wrong, base)
    source = (base / path).read_text()
    wrong.patch = unified_diff(path, source, "# reviewed\n" + source)
    shutil.rmtree(base)
    tasks_file = tmp_path / "tasks.jsonl"
    dump_tasks([*tasks, wrong], tasks_file)
    return tasks_file


def _report(out: Path) -> dict:
    return json.loads((out / "report.json").read_text())


def test_heldout_tasks_come_from_packages_outside_the_suite() -> None:
    heldout = {task.repo for task in load_tasks(HELDOUT)}
    assert len(heldout) >= 2 and not heldout & _suite_packages()


def test_gold_resolves_all_and_a_wrong_patch_is_unresolved(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = run_qcode(
        "eval",
        "--tasks",
        str(_wrong_gold(tmp_path)),
        "--engine",
        "gold",
        "--workers",
        "2",
        "--out",
        str(out),
        timeout=900,
    )
    assert done.returncode == 0, done.stderr
    report = _report(out)
    by_id = {task["instance_id"]: task for task in report["per_task"]}
    wrong = [task_id for task_id in by_id if task_id.endswith("-wrong")]
    assert len(wrong) == 1 and by_id[wrong[0]]["status"] == "unresolved"
    assert by_id[wrong[0]]["run_status"] == "resolved"  # the run finished; the tests say no
    assert report["resolved"] == len(by_id) - 1
    for task in by_id.values():
        assert task["steps"] >= 8
        assert task["usage"]["prompt_tokens"] > task["usage"]["cached_tokens"] > 0
        assert task["usage"]["completion_tokens"] > 0 and task["wall_seconds"] > 0
        assert Path(task["trajectory"]).is_file()
        lines = (out / "tasks" / task["instance_id"] / "events.jsonl").read_text().splitlines()
        events = [json.loads(line) for line in lines]  # the stream-json lines, per task
        assert events[0]["type"] == "session_started" and events[-1]["type"] == "result"
        assert events[-1]["status"] == task["run_status"] and events[-1]["steps"] == task["steps"]
        assert {"tool_call", "observation"} <= {event["type"] for event in events}
    assert "HARNESS CHECK" in report["label"] and "HARNESS CHECK" in (out / "report.md").read_text()
    for plot in ("resolve_rate.png", "steps.png", "tokens.png"):
        assert (out / plot).read_bytes()[:4] == b"\x89PNG"

    again = run_qcode("eval", "--tasks", str(tmp_path / "tasks.jsonl"), "--engine", "gold", "--out", str(out))
    assert again.returncode == 0 and f"{len(by_id)} of {len(by_id)} tasks already done" in again.stderr
    assert _report(out)["resolved"] == report["resolved"]


def test_gold_with_faults_still_resolves(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = run_qcode(
        "eval",
        "--tasks",
        str(HELDOUT),
        "--engine",
        "gold",
        "--workers",
        "2",
        "--faults",
        "0.3",
        "--out",
        str(out),
        timeout=900,
    )
    assert done.returncode == 0, done.stderr
    report = _report(out)
    assert report["resolved"] / report["tasks"] >= 0.9
    assert report["faults_injected"] > 0
    assert report["tool_errors"] > 0 and report["recoveries"] > 0


def test_bad_tasks_file_is_one_line_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instance_id": "x"}\n')
    done = run_qcode("eval", "--tasks", str(bad), "--out", str(tmp_path / "out"))
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "problem_statement" in lines[0]
