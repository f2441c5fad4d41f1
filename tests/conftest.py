"""Shared fixtures: real git repositories and an isolated qcode state folder."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

IDENTITY = {
    "GIT_AUTHOR_NAME": "Test User",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test User",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}
SANDBOX_IMAGE = os.environ.get("QCODE_SANDBOX_IMAGE", "qcode-sandbox:latest")
# Replay files written before the planner phase change files from their first call. They run with
# the phases off, set here for the whole test process (module-scoped fixtures and every `qcode`
# subprocess inherit it); the tests of the phases turn them back on (QCODE_PLAN_FIRST=true, or
# LoopLimits(phases=True), the loop's default).
os.environ.setdefault("QCODE_PLAN_FIRST", "false")

DOCKER_FIXTURES = frozenset({"sandbox", "client"})
"""Fixtures that start or talk to Docker: a test using one is marked `docker`."""
VLLM_FIXTURES = frozenset({"tiny_model_dir", "tokenizer"})
"""Fixtures that need vLLM's CPU build (the tiny model, its tokenizer via transformers): `vllm`."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark by fixture use, so the fast tier (`-m "not docker and not vllm"`) cannot pick up a test
    that needs either just because its module forgot a `pytestmark`."""
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if used & DOCKER_FIXTURES:
            item.add_marker(pytest.mark.docker)
        if used & VLLM_FIXTURES:
            item.add_marker(pytest.mark.vllm)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **IDENTITY},
    ).stdout


def committed_repo(folder: Path, files: dict[str, str]) -> Path:
    """Make `folder` a git repository on branch `main` holding `files` in one commit."""
    folder.mkdir(parents=True)
    git(folder, "init", "-q", "--initial-branch=main")
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", "initial")
    return folder


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[[dict[str, str]], Path]:
    """A committed git repository on branch `main` with the given files."""
    counter = iter(range(1000))
    return lambda files: committed_repo(tmp_path / f"repo{next(counter)}", files)


@pytest.fixture(autouse=True)
def isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Sessions, user config and XDG folders of each test live under its tmp_path."""
    state = tmp_path / "state"
    monkeypatch.setenv("QCODE_STATE_DIR", str(state))
    monkeypatch.setenv("QCODE_CONFIG", str(tmp_path / "user-config.toml"))
    monkeypatch.setenv("QCODE_SANDBOX_IMAGE", SANDBOX_IMAGE)
    return state
