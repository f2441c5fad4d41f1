"""Sessions across runs: follow-ups, undo (live and after the fact), resume from the trajectory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from qcode.agent.engines.replay import ReplayEngine
from qcode.agent.sessions import list_sessions

from qcode.config import load_settings
from qcode.runner import new_session
from tests.conftest import git
from tests.e2e.helpers import raw_call, run_qcode, write_replay

pytestmark = pytest.mark.docker


def _edit(old: str, new: str) -> dict[str, str]:
    return raw_call("edit_file", path="v.txt", old_text=old, new_text=new)


def _plan() -> dict[str, str]:
    return raw_call("update_plan", plan=[{"step": "edit", "status": "in_progress"}])


def test_undo_after_the_fact_is_a_new_commit(make_repo, tmp_path: Path) -> None:
    repo = make_repo({"v.txt": "one\n"})
    replay = write_replay(
        tmp_path / "r.jsonl",
        [
            _plan(),
            _edit("one\n", "two\n"),
            _edit("two\n", "three\n"),
            raw_call("finish", summary="three"),
        ],
    )
    result = json.loads(
        run_qcode("fix", "x", "--repo", str(repo), "--engine", f"replay:{replay}", "--json").stdout
    )
    assert git(repo, "show", f"{result['branch']}:v.txt") == "three\n"

    done = run_qcode("undo", "--repo", str(repo), "--json")  # latest session of this repo
    undo = json.loads(done.stdout)
    assert done.returncode == 0 and undo["session_id"] == result["session_id"]
    assert git(repo, "show", f"{result['branch']}:v.txt") == "two\n"
    assert git(repo, "rev-parse", f"{result['branch']}^").strip() == result["commit"]

    undo = json.loads(run_qcode("undo", "--session", result["session_id"], "--steps", "9", "--json").stdout)
    assert "starting commit" in undo["restored_to"]
    assert git(repo, "show", f"{result['branch']}:v.txt") == "one\n"
    assert git(repo, "rev-parse", "HEAD").strip() == git(repo, "rev-parse", "main").strip()

    bad = run_qcode("undo", "--session", "no-such-session")
    assert bad.returncode == 2 and "no session" in bad.stderr


def test_follow_up_live_undo_and_resume(make_repo, tmp_path: Path) -> None:
    repo = make_repo({"v.txt": "one\n"})
    settings = load_settings({}, None).settings
    replay = write_replay(
        tmp_path / "a.jsonl",
        [
            _plan(),
            _edit("one\n", "two\n"),
            raw_call("finish", summary="two"),
            # follow-up run
            _edit("two\n", "three\n"),
            raw_call("finish", summary="three"),
        ],
    )
    with new_session(settings, repo, engine=ReplayEngine(replay)) as session:
        first = session.run("make it two")
        second = session.run("now make it three")
        assert second.branch == first.branch
        assert git(repo, "rev-parse", f"{second.commit}^").strip() == first.commit
        assert git(repo, "show", f"{second.branch}:v.txt") == "three\n"
        stat = session.undo(1)
        assert "v.txt" in stat and (session.workspace.path / "v.txt").read_text() == "two\n"
        session_id = session.id

    assert [m.id for m in list_sessions(settings.state_dir, repo)] == [session_id]
    resumed_replay = write_replay(
        tmp_path / "b.jsonl",
        [
            raw_call("read_file", path="v.txt"),
            _edit("two\n", "four\n"),
            raw_call("finish", summary="four"),
        ],
    )
    with new_session(settings, repo, engine=ReplayEngine(resumed_replay), resume=session_id) as session:
        result = session.run("make it four")
        history = session._loop.messages if session._loop else []
    # The rebuilt conversation holds the earlier runs, the undo notice and the new task, in order.
    users = [m["content"] for m in history if m["role"] == "user"]
    assert "make it two" in users[0] and users[1:] == ["now make it three", users[2], "make it four"]
    assert "undid the last 1 change" in users[2]
    assert sum(1 for m in history if m["role"] == "assistant") == 5 + 3
    assert result.status == "resolved" and result.branch == second.branch
    assert git(repo, "show", f"{result.branch}:v.txt") == "four\n"
    assert git(repo, "rev-parse", f"{result.commit}^").strip() == second.commit
