"""Small real git repositories for the attacks (module-scoped fixtures cannot use `make_repo`)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import committed_repo, git

BUGGY = "def add(a, b):\n    return a - b\n"
FIXED = "def add(a, b):\n    return a + b\n"
TEST = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"


def make_repo(folder: Path, files: dict[str, str] | None = None) -> Path:
    """A committed repository on `main` with a one-line bug in calc.py (plus `files`)."""
    return committed_repo(folder, {"calc.py": BUGGY, "test_calc.py": TEST, **(files or {})})


def repo_state(repo: Path) -> dict[str, str]:
    """Everything of the user's repository an attack must not change."""
    files = {
        str(p.relative_to(repo)): p.read_bytes().hex()
        for p in sorted(repo.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(repo).parts
    }
    return {
        "head": git(repo, "rev-parse", "HEAD"),
        "symbolic": git(repo, "symbolic-ref", "HEAD"),
        "branches": git(repo, "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads/"),
        "status": git(repo, "status", "--porcelain", "--untracked-files=all"),
        "worktrees": git(repo, "worktree", "list", "--porcelain"),
        "files": repr(files),
    }
