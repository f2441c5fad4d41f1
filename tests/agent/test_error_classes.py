"""Errors classed honestly: bad settings are bad input (exit 2, before any engine loads); a git
failure under qcode is not (exit 3)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from qcode.agent.exceptions import GitError, UserError

from qcode.config import load_settings


def test_git_error_is_not_bad_input() -> None:
    assert not issubclass(GitError, UserError)


@pytest.mark.parametrize(("key", "value"), [("SANDBOX_DISK", "lots"), ("SANDBOX_MEMORY", "4 gigs")])
def test_bad_sizes_fail_in_load_settings(monkeypatch: pytest.MonkeyPatch, key: str, value: str) -> None:
    monkeypatch.setenv(f"QCODE_{key}", value)
    with pytest.raises(UserError, match=rf"bad value for '{key.lower()}' from env: .*bad size '{value}'"):
        load_settings({}, None)


@pytest.mark.slow
def test_bad_size_exits_2_with_one_line_before_the_engine(make_repo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo({"a.py": "x = 1\n"})
    # `vllm` would refuse this GPU-less machine (or load for minutes): the settings must fail first.
    result = subprocess.run(
        [sys.executable, "-m", "qcode", "fix", "bug", "--repo", str(repo), "--engine", "vllm", "--yes"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
        env={**os.environ, "QCODE_SANDBOX_DISK": "lots"},
    )
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("qcode: bad value for 'sandbox_disk' from env:") and "'lots'" in line


_GIT_FAILS_MID_RUN = """
import sys
import qcode.cli as cli
import qcode.runner as runner
from qcode.agent.exceptions import GitError

def new_session(*args, **kwargs):
    raise GitError("git commit-tree failed in /tmp/x: fatal: cannot lock ref")

cli._first_run_setup = lambda settings: None  # no engine, no sandbox: only the exit path is tested
runner.new_session = new_session
sys.argv = ["qcode", "fix", "bug", "--repo", sys.argv[1], "--engine", "replay:none.jsonl", "--yes"]
cli.main()
"""


@pytest.mark.slow
def test_a_git_failure_mid_run_exits_3_not_2(make_repo) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo({"a.py": "x = 1\n"})
    result = subprocess.run(
        [sys.executable, "-c", _GIT_FAILS_MID_RUN, str(repo)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert result.returncode == 3, result.stderr
    assert result.stderr.strip() == "qcode: git commit-tree failed in /tmp/x: fatal: cannot lock ref"
