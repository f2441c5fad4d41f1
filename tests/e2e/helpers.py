"""Helpers for end-to-end tests: replay files, running the real `qcode` command, sandbox checks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import docker
from qcode.agent.qwen_xml import render_tool_call

from tests.conftest import SANDBOX_IMAGE


def raw_call(name: str, **arguments: Any) -> dict[str, str]:
    return {"raw": render_tool_call(name, arguments)}


def write_replay(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


QCODE = [sys.executable, "-m", "qcode"]
"""The qcode of this interpreter, never whichever `qcode` comes first on PATH."""


def default_sigint() -> None:
    """`preexec_fn` for a child the test stops with SIGINT: it takes Ctrl-C as one started from a
    terminal would, even when the suite itself was started in the background (which leaves SIGINT
    ignored, inherited by every child, and Python then never raises KeyboardInterrupt)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_qcode(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qcode", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


def qcode_containers(session_id: str | None = None) -> list[str]:
    """qcode's containers, all of them or one session's (other test processes may run their own)."""
    label = f"qcode.session={session_id}" if session_id else "qcode=1"
    client = docker.from_env()
    return [c.name for c in client.containers.list(all=True, filters={"label": label})]


def run_tests_in_sandbox_image(folder: Path, command: str = "python -m pytest -q") -> int:
    """Run a checkout's tests in a throwaway container (repository code never runs on the host)."""
    client = docker.from_env()
    container = client.containers.run(
        SANDBOX_IMAGE,
        ["bash", "-c", f"cp -r /src /tmp/w && cd /tmp/w && {command}"],
        volumes={str(folder): {"bind": "/src", "mode": "ro"}},
        network_mode="none",
        user="65532:65532",
        detach=True,
        environment={"PYTHONDONTWRITEBYTECODE": "1", "HOME": "/tmp"},
    )
    try:
        return int(container.wait(timeout=120)["StatusCode"])
    finally:
        container.remove(force=True)
