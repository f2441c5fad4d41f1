"""`qcode demo`: a bundled sample repo with a bug, and a replay file that fixes it."""

from __future__ import annotations

import shutil
import tempfile
from importlib import resources
from pathlib import Path

from qcode.agent.hostgit import run_git

__all__ = ["DEMO_TASK", "prepare_demo"]

DEMO_TASK = (
    "apply_discount(200, 10) returns 190 instead of 180: the discount is subtracted as an amount, "
    "but the argument is a percentage."
)
_IDENTITY = {
    "GIT_AUTHOR_NAME": "qcode demo",
    "GIT_AUTHOR_EMAIL": "demo@localhost",
    "GIT_COMMITTER_NAME": "qcode demo",
    "GIT_COMMITTER_EMAIL": "demo@localhost",
}


def prepare_demo(target: Path | None = None) -> tuple[Path, Path, str]:
    """Copy the sample repo to `target` (a new temp folder by default) and commit it.

    Returns (repository, replay file, task text).
    """
    repo = target or Path(tempfile.mkdtemp(prefix="qcode-demo-")) / "shop"
    with resources.as_file(resources.files("qcode.demo") / "sample_repo") as sample:
        shutil.copytree(sample, repo, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    run_git(["init", "--quiet", "--initial-branch=main"], repo)
    run_git(["add", "--all"], repo)
    run_git(["commit", "--quiet", "-m", "Initial commit"], repo, env=_IDENTITY)
    with resources.as_file(resources.files("qcode.demo") / "demo.jsonl") as replay:
        return repo, Path(replay), DEMO_TASK
