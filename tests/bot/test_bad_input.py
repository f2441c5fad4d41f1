"""Bad input and cheap failures: one clear line, exit 2, before any model work or any push."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bot.conftest import Remote, labeled_event
from tests.bot.fake_github import FakeGitHub
from tests.conftest import git


def _one_line(done, pattern: str) -> str:  # type: ignore[no-untyped-def]
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("qcode:")]
    assert len(lines) == 1 and pattern in lines[0], done.stderr
    return lines[0]


@pytest.mark.slow
def test_rejected_token_fails_before_the_run(
    run_bot, remote: Remote, github: FakeGitHub, isolated_state: Path
) -> None:
    done = run_bot(
        labeled_event(),
        "--engine",
        "replay:/nonexistent.jsonl",
        api_url=github.url,
        env={"GITHUB_TOKEN": "ghs_revoked"},
    )
    line = _one_line(done, "GitHub rejected the token on GET /repos/owner/repo (401 Bad credentials)")
    assert "ghs_revoked" not in done.stderr + done.stdout and "GITHUB_TOKEN" in line
    assert not (isolated_state / "sessions").exists() and remote.branch("qcode/issue-7") is None


@pytest.mark.slow
def test_unknown_repository_is_404(run_bot, remote: Remote, github: FakeGitHub) -> None:
    done = run_bot(labeled_event(), "--repo", "owner/typo", api_url=github.url)
    _one_line(done, "GET /repos/owner/typo (404 Not Found)")


@pytest.mark.slow
def test_missing_token(run_bot, github: FakeGitHub) -> None:
    done = run_bot(labeled_event(), api_url=github.url, env={"GITHUB_TOKEN": ""})
    _one_line(done, "no GitHub token; set GITHUB_TOKEN")
    assert github.requests == []


@pytest.mark.slow
def test_missing_or_broken_event(run_bot, tmp_path: Path, github: FakeGitHub) -> None:
    done = run_bot(labeled_event(), env={"GITHUB_EVENT_PATH": str(tmp_path / "none.json")})
    _one_line(done, "does not exist; pass --event PATH or set GITHUB_EVENT_PATH")
    broken = labeled_event()
    del broken["issue"]["number"]
    done = run_bot(broken, api_url=github.url)
    _one_line(done, "bad `issue.number`")


@pytest.mark.slow
def test_result_branch_checked_out_is_refused(
    run_bot, remote: Remote, github: FakeGitHub, tmp_path: Path
) -> None:
    worktree = tmp_path / "wt"
    git(remote.checkout, "worktree", "add", "-q", "-b", "qcode/issue-7", str(worktree))
    done = run_bot(labeled_event(), api_url=github.url)
    _one_line(done, f"qcode/issue-7 is checked out in {worktree}")
    assert github.requests == []
