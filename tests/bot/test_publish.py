"""Host-side push: the token goes to git through the environment only, once, and only to origin."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest
from qcode.agent.exceptions import GitError, UserError

from qcode.bot.publish import auth_env, ensure_branch_free, push_branch
from tests.bot.git_http import GitHttpRemote
from tests.conftest import git


@pytest.fixture
def http_checkout(make_repo, tmp_path: Path) -> tuple[Path, Path]:
    """A checkout whose origin is a bare repository served over smart HTTP (URL set by the test)."""
    upstream = make_repo({"a.py": "x = 1\n"})
    origin = tmp_path / "srv" / "owner" / "repo.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(upstream), str(origin)], check=True)
    checkout = tmp_path / "checkout"
    subprocess.run(["git", "clone", "-q", str(origin), str(checkout)], check=True)
    git(checkout, "switch", "-q", "-c", "qcode/issue-7")
    (checkout / "a.py").write_text("x = 2\n")
    git(checkout, "commit", "-q", "-am", "fix")
    git(checkout, "switch", "-q", "main")
    return origin, checkout


def test_push_over_https_style_remote_sends_exactly_our_token(http_checkout, tmp_path: Path) -> None:
    origin, checkout = http_checkout
    token = "ghs_pushsecret123"
    with GitHttpRemote(tmp_path / "srv", token) as server:
        url = server.repo_url("owner/repo.git")
        git(checkout, "remote", "set-url", "origin", url)
        # What actions/checkout persists by default: a header with another (stale) token.
        prefix = url.split("/owner")[0] + "/"
        git(checkout, "config", f"http.{prefix}.extraheader", "AUTHORIZATION: basic c3RhbGU6c3RhbGU=")
        push_branch(checkout, "qcode/issue-7", token)
    pushed = git(origin, "rev-parse", "qcode/issue-7").strip()
    assert pushed == git(checkout, "rev-parse", "qcode/issue-7").strip()
    assert server.auth_headers and all(len(headers) == 1 for headers in server.auth_headers)
    assert token not in (checkout / ".git" / "config").read_text()


def test_push_with_a_rejected_token_is_one_clear_error(http_checkout, tmp_path: Path) -> None:
    _, checkout = http_checkout
    with GitHttpRemote(tmp_path / "srv", "ghs_right") as server:
        git(checkout, "remote", "set-url", "origin", server.repo_url("owner/repo.git"))
        with pytest.raises(GitError) as caught:
            push_branch(checkout, "qcode/issue-7", "ghs_wrong_token")
    message = str(caught.value)
    assert message.startswith("could not push qcode/issue-7 to origin") and "ghs_wrong_token" not in message
    assert "\n" not in message


def test_auth_env_by_remote_kind() -> None:
    assert auth_env("/srv/origin.git", None) == {}
    assert auth_env("file:///srv/origin.git", None) == {}
    env = auth_env("https://github.com/owner/repo", "tok'en")
    entries = env["GIT_CONFIG_PARAMETERS"]
    assert entries.startswith("'http.https://github.com/.extraheader=' ")  # reset first
    basic = base64.b64encode(b"x-access-token:tok'en").decode()
    assert f"'http.https://github.com/.extraheader=AUTHORIZATION: basic {basic}'" in entries
    with pytest.raises(UserError, match="HTTPS remote"):
        auth_env("git@github.com:owner/repo.git", "tok")
    with pytest.raises(UserError, match="needs a token"):
        auth_env("https://github.com/owner/repo", None)


def test_checked_out_result_branch_is_refused(make_repo, tmp_path: Path) -> None:
    repo = make_repo({"a.py": "x = 1\n"})
    ensure_branch_free(repo, "qcode/issue-7")  # no such branch: fine
    other = tmp_path / "other-worktree"
    git(repo, "worktree", "add", "-q", "-b", "qcode/issue-7", str(other))
    with pytest.raises(UserError, match=f"qcode/issue-7 is checked out in {other}"):
        ensure_branch_free(repo, "qcode/issue-7")
