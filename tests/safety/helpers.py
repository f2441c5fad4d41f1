"""Running attacks through the real product: `qcode fix` as a subprocess with a replay engine whose
turns are the attack, then reading what the model saw (the trajectory's observations)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qcode.agent.trajectory import read_trajectory

from tests.e2e.helpers import raw_call, write_replay
from tests.polling import wait_until

__all__ = [
    "FixRun",
    "HOST_SECRET",
    "Step",
    "finish",
    "plant_host_secret",
    "raw_call",
    "run_fix",
    "session_workspace",
    "sh",
    "start_fix",
    "wait_until",
]

HOST_SECRET = "host-secret-7f3a9c-do-not-leak"
"""The content of a host file outside the workspace that attacks try to read or overwrite."""


def plant_host_secret(folder: Path) -> Path:
    """A file on the host, outside any workspace, with content that must never show up."""
    folder.mkdir(parents=True, exist_ok=True)
    secret = folder / "host-secret.txt"
    secret.write_text(HOST_SECRET + "\n")
    secret.chmod(0o644)  # world-readable: only the workspace boundary protects it
    return secret


def sh(command: str, timeout: float | None = None) -> dict[str, str]:
    """A shell tool call as the model would send it."""
    args: dict[str, Any] = {"command": command}
    if timeout is not None:
        args["timeout"] = timeout
    return raw_call("shell", **args)


Step = dict[str, str]


@dataclass
class FixRun:
    """One finished `qcode fix --json` run and what it left."""

    proc: subprocess.CompletedProcess[str]
    result: dict[str, Any]
    records: list[dict[str, Any]]

    @property
    def observations(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r["type"] == "observation"]

    @property
    def trajectory_text(self) -> str:
        return Path(self.result["trajectory"]).read_text(encoding="utf-8")

    def obs(self, index: int) -> dict[str, Any]:
        """The observation of turn `index` (one tool call per turn, planner's turn included)."""
        return self.observations[index]


def shell_output(observation: dict[str, Any]) -> str:
    """A shell observation's output, without the status line (`[exit code: N]`) that comes first."""
    text = str(observation["text"])
    return text.split("\n", 1)[1] if text.startswith(("[exit code", "[timed out")) and "\n" in text else text


def run_fix(
    repo: Path,
    turns: list[Step],
    folder: Path,
    *,
    task: str = "fix the bug",
    env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
    timeout: float = 600,
    peak_rss_to: Path | None = None,
    as_user: list[str] | None = None,
) -> FixRun:
    """Run `qcode fix` on `repo` with `turns` as the model; `folder` holds the replay and state.
    `peak_rss_to`: run qcode through tests/safety/rss.py, which writes its peak RSS (KiB) there.
    `as_user`: an argv prefix that runs qcode as another user (tests/nonroot.py)."""
    folder.mkdir(parents=True, exist_ok=True)
    replay = write_replay(folder / "attack.jsonl", turns)
    run_env = {
        **os.environ,
        "QCODE_STATE_DIR": str(folder / "state"),
        "QCODE_CONFIG": str(folder / "user-config.toml"),
        **(env or {}),
    }
    command = [sys.executable, "-m", "qcode"]
    if peak_rss_to is not None:
        command = [sys.executable, "-m", "tests.safety.rss", str(peak_rss_to)]
        run_env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])  # the repo root: `tests` imports
    proc = subprocess.run(
        [
            *(as_user or []),
            *command,
            "fix",
            task,
            "--repo",
            str(repo),
            "--engine",
            f"replay:{replay}",
            "--json",
            "--yes",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=run_env,
        stdin=subprocess.DEVNULL,
    )
    assert proc.stdout.strip(), f"qcode printed no result (exit {proc.returncode}): {proc.stderr[-2000:]}"
    result = json.loads(proc.stdout)
    return FixRun(proc, result, read_trajectory(Path(result["trajectory"])))


def finish(summary: str = "done") -> Step:
    return raw_call("finish", summary=summary)


def start_fix(
    repo: Path, turns: list[Step], folder: Path, *, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """`qcode fix` in the background (the caller waits for or kills it)."""
    folder.mkdir(parents=True, exist_ok=True)
    replay = write_replay(folder / "attack.jsonl", turns)
    run_env = {
        **os.environ,
        "QCODE_STATE_DIR": str(folder / "state"),
        "QCODE_CONFIG": str(folder / "user-config.toml"),
        **(env or {}),
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "qcode",
            "fix",
            "fix the bug",
            "--repo",
            str(repo),
            "--engine",
            f"replay:{replay}",
            "--json",
            "--yes",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=run_env,
        stdin=subprocess.DEVNULL,
    )


def session_workspace(folder: Path) -> Path | None:
    """The workspace of the (only) session under `folder`'s state dir, once it exists."""
    found = sorted((folder / "state" / "sessions").glob("*/workspace"))
    return found[0] if found else None
