"""`qcode bot` end to end: the real command, real Docker and git, a bare origin, a fake GitHub API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from qcode.agent.trajectory import read_trajectory

from tests.bot.conftest import Remote, labeled_event
from tests.bot.fake_github import FakeGitHub
from tests.conftest import git
from tests.e2e.helpers import raw_call, write_replay

pytestmark = pytest.mark.docker

SNOOP = "env; cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n'"


def _fix_turns() -> list[dict]:
    return [
        raw_call(
            "update_plan",
            plan=[{"step": "Reproduce", "status": "in_progress"}, {"step": "Fix mean", "status": "pending"}],
        ),
        raw_call("shell", command=SNOOP),
        raw_call(
            "edit_file",
            path="stats.py",
            old_text="    return sum(values) / (len(values) + 1)\n",
            new_text="    return sum(values) / len(values)\n",
        ),
        raw_call(
            "update_plan",
            plan=[{"step": "Reproduce", "status": "done"}, {"step": "Fix mean", "status": "done"}],
        ),
        raw_call("finish", summary="mean divided by len+1; now divides by len."),
    ]


def _files_containing(folder: Path, needle: str) -> list[str]:
    return [str(p) for p in folder.rglob("*") if p.is_file() and needle.encode() in p.read_bytes()]


def test_labeled_issue_becomes_one_pull_request(
    run_bot, remote: Remote, github: FakeGitHub, token: str, tmp_path: Path, isolated_state: Path
) -> None:
    main = remote.branch("main")
    replay = write_replay(tmp_path / "fix.jsonl", _fix_turns())
    done = run_bot(
        labeled_event(7),
        "--engine",
        f"replay:{replay}",
        "--verify",
        "python -m pytest -q",
        "--json",
        api_url=github.url,
    )
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    assert outcome["action"] == "opened" and outcome["result"]["status"] == "resolved"

    # The fix is on origin's qcode/issue-7, on top of the default branch.
    tip = remote.branch("qcode/issue-7")
    assert tip is not None and git(remote.origin, "rev-parse", f"{tip}^").strip() == main
    assert "return sum(values) / len(values)\n" in remote.show(tip, "stats.py")

    # Exactly one pull request and one comment, in GitHub's documented shapes.
    assert github.violations == []
    assert [r.method for r in github.requests] == ["GET", "GET", "POST", "POST"]
    (create,) = github.calls("POST", "/repos/owner/repo/pulls")
    pr = create.json_body
    assert (pr["head"], pr["base"], pr["draft"]) == ("qcode/issue-7", "main", False)
    assert pr["title"] == "Fix #7: mean([2, 4, 6]) returns 3 instead of 4"
    assert "Fixes #7" in pr["body"] and "- [x] Fix mean" in pr["body"]
    assert "mean divided by len+1" in pr["body"] and "exit 0 (passed)" in pr["body"]
    (comment,) = github.calls("POST", "/repos/owner/repo/issues/7/comments")
    assert github.pulls[0]["html_url"] in comment.json_body["body"]
    assert f"pull-request={github.pulls[0]['html_url']}" in (tmp_path / "github-output.txt").read_text()

    # The token reached neither the sandbox nor the model nor any file of the session.
    records = read_trajectory(Path(outcome["result"]["trajectory"]))
    snoop = next(r for r in records if r["type"] == "observation" and r["name"] == "shell")
    assert "PATH=" in snoop["text"] and "HOME=" in snoop["text"]  # the commands did run
    assert token not in snoop["text"] and "GITHUB_TOKEN" not in snoop["text"]
    assert _files_containing(isolated_state, token) == []
    assert _files_containing(remote.checkout / ".git", token) == []

    # A second run for the same issue updates the branch and the same pull request.
    again = write_replay(tmp_path / "again.jsonl", _fix_turns())
    done = run_bot(labeled_event(7), "--engine", f"replay:{again}", api_url=github.url)
    assert done.returncode == 0, done.stderr
    assert "updated pull request #100" in done.stderr
    assert len(github.calls("POST", "/repos/owner/repo/pulls")) == 1 and len(github.pulls) == 1
    (lookup,) = github.calls("GET", "/repos/owner/repo/pulls")[1:]
    assert lookup.query == {"head": "owner:qcode/issue-7", "state": "open"}
    (patch,) = github.calls("PATCH", "/repos/owner/repo/pulls/100")
    assert "Fixes #7" in patch.json_body["body"]
    assert len(github.calls("POST", "/repos/owner/repo/issues/7/comments")) == 2
    assert "return sum(values) / len(values)\n" in remote.show("qcode/issue-7", "stats.py")
    assert github.violations == []


def test_dry_run_touches_no_remote(run_bot, remote: Remote, github: FakeGitHub, tmp_path: Path) -> None:
    replay = write_replay(tmp_path / "fix.jsonl", _fix_turns())
    out = tmp_path / "dry"
    done = run_bot(
        labeled_event(7),
        "--engine",
        f"replay:{replay}",
        "--dry-run",
        "--out",
        str(out),
        api_url=github.url,
        env={"GITHUB_TOKEN": ""},
    )
    assert done.returncode == 0, done.stderr
    assert github.requests == [] and remote.branch("qcode/issue-7") is None
    assert "-    return sum(values) / (len(values) + 1)" in (out / "result.patch").read_text()
    assert "Fixes #7" in (out / "pr-body.md").read_text()
    calls = json.loads((out / "api-calls.json").read_text())
    assert [(c["method"], c["path"]) for c in calls] == [
        ("GET", "/repos/owner/repo/pulls"),
        ("POST", "/repos/owner/repo/pulls"),
        ("POST", "/repos/owner/repo/issues/7/comments"),
    ]
    assert calls[1]["json"]["head"] == "qcode/issue-7" and calls[1]["json"]["base"] == "main"


def test_no_change_comments_the_reason(run_bot, remote: Remote, github: FakeGitHub, tmp_path: Path) -> None:
    replay = write_replay(
        tmp_path / "r.jsonl",
        [raw_call("update_plan", plan=[{"step": "look"}]), raw_call("finish", summary="nothing to fix")],
    )
    done = run_bot(labeled_event(7), "--engine", f"replay:{replay}", api_url=github.url)
    assert done.returncode == 1, done.stderr
    assert github.calls("POST", "/repos/owner/repo/pulls") == [] and remote.branch("qcode/issue-7") is None
    (comment,) = github.calls("POST", "/repos/owner/repo/issues/7/comments")
    assert "without changing any file" in comment.json_body["body"]
    assert "no pull request: finished without changing any file" in done.stderr


def test_pull_request_already_exists_is_one_clear_line(
    run_bot, remote: Remote, github: FakeGitHub, tmp_path: Path
) -> None:
    exists = "A pull request already exists for owner:qcode/issue-7."
    github.fail(
        "POST",
        "/repos/owner/repo/pulls",
        422,
        {
            "message": "Validation Failed",
            "errors": [{"resource": "PullRequest", "code": "custom", "message": exists}],
        },
    )
    replay = write_replay(tmp_path / "fix.jsonl", _fix_turns())
    done = run_bot(labeled_event(7), "--engine", f"replay:{replay}", api_url=github.url)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.startswith("qcode:")]
    assert len(lines) == 1 and "A pull request already exists for owner:qcode/issue-7 (422)" in lines[0]
    assert "run qcode bot again" in lines[0]
    assert remote.branch("qcode/issue-7") is not None  # the pushed work is not lost


def test_unresolved_run_opens_a_draft(run_bot, remote: Remote, github: FakeGitHub, tmp_path: Path) -> None:
    replay = write_replay(tmp_path / "r.jsonl", _fix_turns()[:3])  # plan, look, edit — then the step limit
    done = run_bot(labeled_event(7), "--engine", f"replay:{replay}", "--max-steps", "3", api_url=github.url)
    assert done.returncode == 1, done.stderr
    (create,) = github.calls("POST", "/repos/owner/repo/pulls")
    assert create.json_body["draft"] is True and "step limit reached" in create.json_body["body"]
    assert "Fixes #7" in create.json_body["body"] and remote.branch("qcode/issue-7") is not None
    (comment,) = github.calls("POST", "/repos/owner/repo/issues/7/comments")
    assert "a draft, unresolved" in comment.json_body["body"]
