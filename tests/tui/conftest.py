"""TUI fixtures: a buggy repository, replay files, settings, and a deadline-bound wait for Pilot tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from qcode.config import Settings, load_settings
from tests.e2e.helpers import raw_call, write_replay

BUGGY = "def mean(values):\n    return sum(values) / (len(values) + 1)\n"
FIXED_LINE = "    return sum(values) / len(values)\n"
TEST = "from stats import mean\n\n\ndef test_mean():\n    assert mean([2, 4, 6]) == 4\n"


@pytest.fixture
def buggy_repo(make_repo: Callable[[dict[str, str]], Path]) -> Path:
    return make_repo({"stats.py": BUGGY, "test_stats.py": TEST})


def plan(*steps: tuple[str, str]) -> dict[str, str]:
    return raw_call("update_plan", plan=[{"step": step, "status": status} for step, status in steps])


def fix_turns() -> list[dict[str, Any]]:
    """A whole run: plan, reproduce (a safe command), edit, re-plan, finish."""
    return [
        plan(("Reproduce", "in_progress"), ("Fix mean", "pending")),
        {
            "raw": "<think>\nThe tests will show the bug.\n</think>\nRunning the tests first.\n"
            + raw_call("shell", command="python -m pytest -q")["raw"]
        },
        raw_call(
            "edit_file",
            path="stats.py",
            old_text="    return sum(values) / (len(values) + 1)\n",
            new_text=FIXED_LINE,
        ),
        plan(("Reproduce", "done"), ("Fix mean", "done")),
        raw_call("finish", summary="mean divided by len+1; now by len."),
    ]


@pytest.fixture
def settings_for(tmp_path: Path) -> Callable[..., Settings]:
    """Settings with a replay file of the given turns, as `qcode tui --engine replay:FILE` builds them."""

    def build(turns: list[dict[str, Any]], approval: str = "yolo", repo: Path | None = None) -> Settings:
        replay = write_replay(tmp_path / "turns.jsonl", turns)
        return load_settings({"engine": f"replay:{replay}", "approval": approval}, repo).settings

    return build


async def until(pilot: Pilot[Any], predicate: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Let the app work until `predicate` holds; fail after `timeout` seconds naming `what`."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await pilot.pause(0.05)
