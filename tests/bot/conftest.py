"""Fixtures of the bot tests: a bare `origin`, a checkout of it, a fake GitHub API, event files."""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.bot.fake_github import FakeGitHub
from tests.conftest import git
from tests.e2e.helpers import run_qcode

BUGGY = '''def mean(values):
    """Arithmetic mean of a non-empty list."""
    return sum(values) / (len(values) + 1)
'''
TEST = """from stats import mean


def test_mean():
    assert mean([2, 4, 6]) == 4
"""


class Remote:
    """A bare repository as `origin` and a checkout of it, as actions/checkout leaves one."""

    def __init__(self, origin: Path, checkout: Path) -> None:
        self.origin, self.checkout = origin, checkout

    def branch(self, name: str) -> str | None:
        done = subprocess.run(
            ["git", "--git-dir", str(self.origin), "rev-parse", "--verify", "-q", f"refs/heads/{name}"],
            capture_output=True,
            text=True,
        )
        return done.stdout.strip() or None

    def show(self, ref: str, path: str) -> str:
        return subprocess.run(
            ["git", "--git-dir", str(self.origin), "show", f"{ref}:{path}"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout


@pytest.fixture
def remote(make_repo, tmp_path: Path) -> Remote:
    upstream = make_repo({"stats.py": BUGGY, "test_stats.py": TEST})
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(upstream), str(origin)], check=True)
    checkout = tmp_path / "checkout"
    subprocess.run(["git", "clone", "-q", str(origin), str(checkout)], check=True)
    git(checkout, "config", "user.name", "CI")
    git(checkout, "config", "user.email", "ci@example.com")
    return Remote(origin, checkout)


@pytest.fixture
def token() -> str:
    return f"ghs_{secrets.token_hex(18)}"


@pytest.fixture
def github(remote: Remote, token: str) -> Iterator[FakeGitHub]:
    with FakeGitHub("owner/repo", token, "main", branch_exists=lambda b: remote.branch(b) is not None) as api:
        yield api


def _user(login: str, kind: str = "User") -> dict[str, Any]:
    return {"login": login, "id": 1, "type": kind}


def _issue(number: int, labels: list[str], title: str, body: str) -> dict[str, Any]:
    return {
        "number": number,
        "title": title,
        "body": body,
        "state": "open",
        "user": _user("alice"),
        "labels": [{"name": name} for name in labels],
        "html_url": f"https://github.example/owner/repo/issues/{number}",
    }


REPOSITORY = {
    "full_name": "owner/repo",
    "name": "repo",
    "owner": _user("owner", "Organization"),
    "default_branch": "main",
}
ISSUE_TITLE = "mean([2, 4, 6]) returns 3 instead of 4"
ISSUE_BODY = "`stats.mean` divides by the wrong length. Expected 4."


def labeled_event(number: int = 7, label: str = "qcode") -> dict[str, Any]:
    return {
        "action": "labeled",
        "issue": _issue(number, [label], ISSUE_TITLE, ISSUE_BODY),
        "label": {"name": label},
        "repository": REPOSITORY,
        "sender": _user("maintainer"),
    }


def comment_event(
    body: str, login: str = "maintainer", kind: str = "User", association: str = "MEMBER", number: int = 7
) -> dict[str, Any]:
    return {
        "action": "created",
        "issue": _issue(number, [], ISSUE_TITLE, ISSUE_BODY),
        "comment": {
            "id": 55,
            "body": body,
            "user": _user(login, kind),
            "author_association": association,
            "html_url": "https://github.example/c/55",
        },
        "repository": REPOSITORY,
        "sender": _user(login, kind),
    }


@pytest.fixture
def run_bot(tmp_path: Path, remote: Remote, token: str) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the real `qcode bot` in the checkout with GitHub Actions' environment."""

    def run(
        event: dict[str, Any],
        *args: str,
        api_url: str = "http://127.0.0.1:9",
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        path = tmp_path / f"event-{secrets.token_hex(3)}.json"
        path.write_text(json.dumps(event))
        actions = {
            "GITHUB_EVENT_PATH": str(path),
            "GITHUB_REPOSITORY": "owner/repo",
            "GITHUB_API_URL": api_url,
            "GITHUB_TOKEN": token,
            "GITHUB_OUTPUT": str(tmp_path / "github-output.txt"),
            "GITHUB_EVENT_NAME": "issue_comment" if "comment" in event else "issues",
        }
        return run_qcode("bot", *args, cwd=remote.checkout, env={**actions, **(env or {})})

    return run
