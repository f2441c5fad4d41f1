"""`qcode bot --attempts 2`: the real command against a bare origin and the local fake GitHub API;
only the chosen attempt is pushed and the pull request's body carries the selection table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bot.conftest import Remote, labeled_event
from tests.bot.fake_github import FakeGitHub
from tests.conftest import git
from tests.e2e.helpers import raw_call, write_replay

pytestmark = pytest.mark.docker

FIXED = "    return sum(values) / len(values)\n"
BUG = "    return sum(values) / (len(values) + 1)\n"


def _turns(new_text: str) -> list[dict]:
    return [
        raw_call("edit_file", path="stats.py", old_text=BUG, new_text=new_text),
        raw_call("finish", summary="Fixed mean. <!-- @someone --> | a pipe"),
    ]


def test_bot_pushes_only_the_chosen_attempt(
    run_bot, remote: Remote, github: FakeGitHub, tmp_path: Path
) -> None:
    wrong = write_replay(tmp_path / "wrong.jsonl", _turns("    return sum(values) / (len(values) - 1)\n"))
    right = write_replay(tmp_path / "right.jsonl", _turns(FIXED))
    done = run_bot(
        labeled_event(7),
        "--attempts",
        "2",
        "--engine",
        f"mix:replay:{wrong},replay:{right}",
        "--json",
        api_url=github.url,
    )
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    assert outcome["action"] == "opened" and outcome["result"]["status"] == "resolved"
    tip = remote.branch("qcode/issue-7")
    assert tip is not None and FIXED in remote.show(tip, "stats.py")
    pushed = git(remote.origin, "for-each-ref", "--format=%(refname)", "refs/heads/")
    assert "attempt" not in pushed  # the attempt branches stayed local
    assert git(remote.checkout, "rev-parse", "qcode/issue-7-attempt-2").strip() == tip
    (create,) = github.calls("POST", "/repos/owner/repo/pulls")
    body = create.json_body["body"]
    assert "## Attempts" in body and "| 2 (chosen) | resolved |" in body
    assert "| 1 | resolved |" in body and "lost at (b)" in body
    assert "exit 0 (passed)" in body  # the chosen attempt's check run is the PR's test result
    assert github.violations == []


def test_bot_dry_run_leaves_no_attempt_branch(
    run_bot, remote: Remote, github: FakeGitHub, tmp_path: Path
) -> None:
    replays = [write_replay(tmp_path / f"r{k}.jsonl", _turns(FIXED)) for k in (1, 2)]
    before = git(remote.checkout, "for-each-ref", "--format=%(refname) %(objectname)")
    done = run_bot(
        labeled_event(7),
        "--attempts",
        "2",
        "--engine",
        "mix:" + ",".join(f"replay:{path}" for path in replays),
        "--dry-run",
        "--out",
        str(tmp_path / "dry"),
        api_url=github.url,
        env={"GITHUB_TOKEN": ""},
    )
    assert done.returncode == 0, done.stderr
    assert git(remote.checkout, "for-each-ref", "--format=%(refname) %(objectname)") == before
    assert "## Attempts" in (tmp_path / "dry" / "pr-body.md").read_text()
    assert github.requests == []
