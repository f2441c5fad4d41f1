"""Host-side git against real repositories: the private copy, diffs, the commit and the branch."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from qcode.agent.exceptions import UserError
from qcode.agent.workspace import Workspace, inspect_repo, slugify, unique_branch

from tests.conftest import git


def _workspace(tmp_path: Path, repo: Path) -> Workspace:
    ws = Workspace(tmp_path / "session", inspect_repo(repo))
    (tmp_path / "session").mkdir()
    ws.create("qcode/test")
    return ws


def test_copy_commit_publish_patch(tmp_path: Path, make_repo) -> None:
    repo = make_repo({"a.py": "x = 1\n", "b.py": "y = 2\n"})
    (repo / "b.py").write_text("y = 'user edit'\n")  # uncommitted, must survive
    head = git(repo, "rev-parse", "HEAD").strip()
    ws = _workspace(tmp_path, repo)
    assert (ws.path / "a.py").read_text() == "x = 1\n"
    assert (ws.path / "b.py").read_text() == "y = 2\n"  # HEAD, not the dirty tree
    assert git(ws.path, "log", "--format=%H").split() == [head]  # history visible in the copy
    assert git(ws.path, "remote").strip() == ""

    (ws.path / "a.py").write_text("x = 10\n")
    (ws.path / "new.py").write_text("z = 3\n")
    diff = ws.diff()
    assert "+x = 10" in diff and "new file mode" in diff and "+z = 3" in diff
    assert "new.py" not in ws.diff("a.py")

    commit = ws.commit("qcode: change\n\nbody\n")
    assert commit is not None
    ws.publish(commit, "qcode/test")
    assert git(repo, "rev-parse", "qcode/test").strip() == commit
    assert git(repo, "rev-parse", "HEAD").strip() == head
    assert (repo / "b.py").read_text() == "y = 'user edit'\n"
    assert git(repo, "show", "qcode/test:a.py") == "x = 10\n"
    patch = tmp_path / "p.patch"
    patch.write_text(ws.patch(commit))
    git(repo, "stash")  # apply --check needs the committed tree, not the user's dirty one
    git(repo, "apply", "--check", str(patch))
    git(repo, "stash", "pop")


def test_no_change_means_no_commit(tmp_path: Path, make_repo) -> None:
    ws = _workspace(tmp_path, make_repo({"a.py": "x = 1\n"}))
    assert ws.commit("nothing") is None


def test_host_git_never_runs_repo_or_workspace_config(tmp_path: Path, make_repo) -> None:
    marker = tmp_path / "pwned"
    repo = make_repo({"a.py": "x = 1\n", ".gitattributes": "*.py filter=evil diff=evil\n"})
    hook = f"#!/bin/sh\ntouch {marker}\n"
    for name in ("post-checkout", "pre-commit", "post-commit", "reference-transaction", "pre-auto-gc"):
        path = repo / ".git" / "hooks" / name
        path.write_text(hook)
        path.chmod(0o755)
    for key, value in {
        "core.fsmonitor": f"touch {marker}",
        "core.pager": f"touch {marker}",
        "diff.external": f"touch {marker}",
        "filter.evil.clean": f"touch {marker}",
        "filter.evil.smudge": f"touch {marker}",
        "diff.evil.textconv": f"touch {marker}",
    }.items():
        git(repo, "config", key, value)
    marker.unlink(missing_ok=True)
    ws = _workspace(tmp_path, repo)
    # What a model could plant from inside the sandbox, in the workspace's own .git:
    subprocess.run(["git", "-C", str(ws.path), "config", "core.fsmonitor", f"touch {marker}"], check=True)
    (ws.path / ".git" / "hooks" / "pre-commit").write_text(hook)
    (ws.path / "a.py").write_text("x = 2\n")
    ws.diff()
    commit = ws.commit("change")
    assert commit
    ws.publish(commit, "qcode/t")
    ws.patch(commit)
    inspect_repo(repo)
    assert not marker.exists()


def test_bad_repositories_are_refused(tmp_path: Path, make_repo) -> None:
    with pytest.raises(UserError, match="not a git repository"):
        inspect_repo(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    with pytest.raises(UserError, match="no commits"):
        inspect_repo(empty)
    repo = make_repo({"a": "1\n"})
    git(repo, "checkout", "-q", "--detach")
    with pytest.raises(UserError, match="detached HEAD"):
        inspect_repo(repo)


def test_branch_names(make_repo) -> None:
    assert slugify("Fix: the `mean()` of [] crashes!") == "fix-the-mean-of-crashes"
    assert slugify("???") == "task"
    repo = make_repo({"a": "1\n"})
    git(repo, "branch", "qcode/x")
    git(repo, "branch", "qcode/x-2")
    assert unique_branch(repo, "qcode/x") == "qcode/x-3"
    assert unique_branch(repo, "qcode/y") == "qcode/y"
