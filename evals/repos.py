"""A task's repository at its base commit, as a fresh git repository on the host.

Only files move and git runs here (host-side git with hooks disabled, through
`qcode.agent.workspace.run_git`); nothing from the repository executes on the host.
"""

from __future__ import annotations

import shutil
import tarfile
import tempfile
from pathlib import Path

from qcode.agent.exceptions import QcodeError
from qcode.agent.hostgit import run_git
from qcode.evals.tasks import Task

__all__ = ["RepoMaterialError", "apply_patch", "materialize"]

# A fixed identity and date make the base commit's id a function of the files alone.
_FIXED_COMMIT = {
    "GIT_AUTHOR_NAME": "qcode-evals",
    "GIT_AUTHOR_EMAIL": "evals@qcode.invalid",
    "GIT_COMMITTER_NAME": "qcode-evals",
    "GIT_COMMITTER_EMAIL": "evals@qcode.invalid",
    "GIT_AUTHOR_DATE": "2000-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2000-01-01T00:00:00Z",
}


class RepoMaterialError(QcodeError):
    """The task's repository material is missing or does not match the task."""


def materialize(task: Task, dest: Path) -> str:
    """Make `dest` a git repository on branch `main` at the task's base; return the base commit id."""
    source = Path(task.repo_path)
    if (source / ".git").exists():
        return _from_git(task, source, dest)
    dest.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, dest, dirs_exist_ok=True, symlinks=True)
    elif source.is_file() and tarfile.is_tarfile(source):
        extract_archive(source, dest)
    else:
        raise RepoMaterialError(f"repo_path {source} of {task.instance_id} is neither a folder nor a tarball")
    run_git(["init", "--quiet", "--initial-branch=main"], dest)
    if task.setup_patch:
        apply_patch(dest, task.setup_patch, "setup_patch")
    run_git(["add", "--all"], dest)
    run_git(["commit", "--quiet", "--no-verify", "--allow-empty", "-m", "base"], dest, env=_FIXED_COMMIT)
    head = run_git(["rev-parse", "HEAD"], dest).strip()
    if task.base_commit and task.base_commit != head:
        raise RepoMaterialError(
            f"{task.instance_id}: repo material makes commit {head[:12]}, the task says "
            f"{task.base_commit[:12]}; the tarball or setup_patch changed"
        )
    return head


def extract_archive(archive: Path, dest: Path) -> None:
    """Unpack; a single top-level folder (as in sdists) is stripped."""
    with tempfile.TemporaryDirectory() as scratch, tarfile.open(archive) as tar:
        tar.extractall(scratch, filter="data")
        entries = list(Path(scratch).iterdir())
        root = entries[0] if len(entries) == 1 and entries[0].is_dir() else Path(scratch)
        shutil.copytree(root, dest, dirs_exist_ok=True, symlinks=True)


def _from_git(task: Task, source: Path, dest: Path) -> str:
    if not task.base_commit:
        raise RepoMaterialError(
            f"{task.instance_id}: repo_path {source} is a git repository; set base_commit"
        )
    run_git(["clone", "--quiet", "--no-hardlinks", "--no-checkout", str(source), str(dest)], dest.parent)
    run_git(["checkout", "--quiet", "-B", "main", task.base_commit], dest)
    run_git(["remote", "remove", "origin"], dest)
    if task.setup_patch:
        apply_patch(dest, task.setup_patch, "setup_patch")
        run_git(["commit", "--quiet", "--no-verify", "-am", "setup"], dest, env=_FIXED_COMMIT)
    return run_git(["rev-parse", "HEAD"], dest).strip()


def apply_patch(repo: Path, patch: str, what: str) -> None:
    """`git apply` (which refuses paths outside the tree); failures raise RepoMaterialError."""
    if not patch.strip():
        return
    patch_file = repo.parent / f".{repo.name}.{what}.diff"
    patch_file.write_text(patch if patch.endswith("\n") else patch + "\n", encoding="utf-8")
    try:
        run_git(["apply", "--whitespace=nowarn", str(patch_file)], repo)
    except QcodeError as err:
        raise RepoMaterialError(f"{what} does not apply: {err}") from None
    finally:
        patch_file.unlink(missing_ok=True)
