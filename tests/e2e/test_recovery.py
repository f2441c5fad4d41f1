"""Recovery through the real loop: malformed calls, tolerant edits, hung commands, being stuck."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from qcode.agent.trajectory import read_trajectory

from tests.conftest import git
from tests.e2e.helpers import raw_call, run_qcode, write_replay

pytestmark = pytest.mark.docker

SOURCE = """class Cart:
    def __init__(self):
        self.items = []

    def total(self):
        result = 0
        for price in self.items:
            result -= price
        return result
"""


def test_done_when_each_problem_becomes_an_observation(make_repo, tmp_path: Path) -> None:
    repo = make_repo({"cart.py": SOURCE})
    # (3) indentation shifted left by 4 and trailing spaces, as a model misremembers it
    sloppy_old = "for price in self.items:   \n    result -= price  \n"
    replay = write_replay(
        tmp_path / "r.jsonl",
        [
            raw_call("update_plan", plan=[{"step": "fix total", "status": "in_progress"}]),
            # (1) a raw turn whose last <parameter> is never closed
            {"raw": "Reading.\n<tool_call>\n<function=read_file>\n<parameter=path>\ncart.py"},
            # (2) a tool that does not exist
            raw_call("open_file", path="cart.py"),
            raw_call(
                "edit_file",
                path="cart.py",
                old_text=sloppy_old,
                new_text="for price in self.items:\n    result += price\n",
            ),
            # (4) a command that hangs, with a 3-second timeout
            raw_call("shell", command="sleep 300", timeout=3),
            raw_call(
                "shell",
                command="python -c 'import cart; c = cart.Cart(); c.items = [2, 3]; print(c.total())'",
            ),
            raw_call("finish", summary="total() added negatives; now sums prices."),  # (5)
        ],
    )
    done = run_qcode(
        "fix",
        "Cart.total() returns negative sums",
        "--repo",
        str(repo),
        "--engine",
        f"replay:{replay}",
        "--json",
    )
    result = json.loads(done.stdout)
    assert done.returncode == 0 and result["status"] == "resolved", done.stderr
    fixed = git(repo, "show", f"{result['branch']}:cart.py")
    assert fixed == SOURCE.replace("result -= price", "result += price")  # file keeps its indentation

    records = read_trajectory(Path(result["trajectory"]))
    obs = [r for r in records if r["type"] == "observation"]
    names = [o["name"] for o in obs]
    assert names == ["update_plan", "read_file", "open_file", "edit_file", "shell", "shell", "finish"]
    assert obs[1]["ok"] and "repaired" in obs[1]["text"] and "class Cart" in obs[1]["text"]
    assert not obs[2]["ok"] and "no tool named `open_file`" in obs[2]["text"]
    assert obs[3]["ok"] and obs[3]["data"]["strategy"] != "exact"
    assert not obs[4]["ok"] and obs[4]["data"]["timed_out"] and "timed out" in obs[4]["text"]
    header, output = obs[5]["text"].split("\n", 1)  # a header line: the template trims the output
    assert obs[5]["ok"] and header == "[exit code: 0]" and output.startswith("5")
    finished = records[-1]
    assert finished["type"] == "finished" and finished["duration"] < 60


def test_stuck_model_gets_a_hint_then_a_rollback_then_a_stop(make_repo, tmp_path: Path) -> None:
    repo = make_repo({"cart.py": SOURCE})
    bad_edit = raw_call(
        "edit_file", path="cart.py", old_text="this text is not in the file\nat all\n", new_text="x\n"
    )
    good_edit = raw_call(
        "edit_file",
        path="cart.py",
        old_text="        return result\n",
        new_text="        return result  # changed\n",
    )
    replay = write_replay(
        tmp_path / "r.jsonl",
        [
            raw_call("update_plan", plan=[{"step": "edit", "status": "in_progress"}]),
            good_edit,
            bad_edit,
            bad_edit,
            bad_edit,  # hint: back to the planner phase, which asks for a new plan
            raw_call("update_plan", plan=[{"step": "edit differently", "status": "in_progress"}]),
            raw_call("write_file", path="junk.txt", content="made while stuck\n"),
            bad_edit,
            bad_edit,
            bad_edit,  # rollback to the checkpoint before the repetition
            bad_edit,
            bad_edit,
            bad_edit,  # stop
            raw_call("finish", summary="never reached"),
        ],
    )
    done = run_qcode(
        "fix",
        "x",
        "--repo",
        str(repo),
        "--engine",
        f"replay:{replay}",
        "--json",
        env={"QCODE_PLAN_FIRST": "true"},
    )
    result = json.loads(done.stdout)
    assert result["status"] == "unresolved" and result["reason"].startswith("stuck:"), result
    phases = [r["phase"] for r in read_trajectory(Path(result["trajectory"])) if r["type"] == "phase"]
    assert phases == ["planner", "executor", "planner", "executor", "planner"]  # the stuck episodes
    records = read_trajectory(Path(result["trajectory"]))
    notices = [r["text"] for r in records if r["type"] == "user_message" and "qcode notice" in r["text"]]
    assert len(notices) == 2
    assert "Step back" in notices[0] or "error keeps coming back" in notices[0]
    assert "rolled back" in notices[1]
    rolled = [r for r in records if r["type"] == "rolled_back"]
    assert len(rolled) == 1
    # The rollback removed junk.txt (written after the repetition began) but kept the good edit.
    branch_files = git(repo, "ls-tree", "--name-only", result["branch"]).split()
    assert "junk.txt" not in branch_files
    assert "# changed" in git(repo, "show", f"{result['branch']}:cart.py")
