"""The planner phase through the real `qcode fix`: a replay whose first call edits a file gets
the planner's answer and the file stays as it was; the plan then drives the executor."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from qcode.agent.trajectory import read_trajectory

from tests.conftest import git
from tests.e2e.helpers import raw_call, run_qcode, write_replay

pytestmark = pytest.mark.docker


def test_the_planner_cannot_edit_and_its_plan_drives_the_executor(make_repo, tmp_path: Path) -> None:
    repo = make_repo({"v.txt": "one\n"})
    replay = write_replay(
        tmp_path / "r.jsonl",
        [
            raw_call("edit_file", path="v.txt", old_text="one", new_text="planner wrote this"),
            raw_call("shell", command="echo sneaky > v.txt"),
            raw_call("read_file", path="v.txt"),
            raw_call(
                "update_plan",
                plan=[{"step": "edit v.txt", "status": "in_progress"}, {"step": "Done when: v.txt says two"}],
            ),
            raw_call("edit_file", path="v.txt", old_text="one", new_text="two"),
            raw_call("finish", summary="two"),
        ],
    )
    done = run_qcode(
        "fix",
        "make it two",
        "--repo",
        str(repo),
        "--engine",
        f"replay:{replay}",
        "--json",
        env={"QCODE_PLAN_FIRST": "true"},
    )
    result = json.loads(done.stdout)
    assert result["status"] == "resolved", done.stderr
    assert git(repo, "show", f"{result['branch']}:v.txt") == "two\n"  # only the executor's edit

    records = read_trajectory(Path(result["trajectory"]))
    obs = [r for r in records if r["type"] == "observation"]
    assert [o["data"].get("error") for o in obs[:2]] == ["planner_phase", "planner_phase"]
    assert obs[2]["ok"] and "one" in obs[2]["text"]  # the planner read the file as it was
    turns = [r["phase"] for r in records if r["type"] == "turn_started"]
    assert turns == ["planner"] * 4 + ["executor"] * 2
    assert [r["phase"] for r in records if r["type"] == "phase"] == ["planner", "executor"]
    assert all(r.get("id") and r.get("source") for r in records)  # every record has both
