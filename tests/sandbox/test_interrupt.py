"""Stopping a run kills the running command at once (Esc / Ctrl+Q), not when it ends by itself."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from qcode.agent.contracts import ExecResult
from qcode.sandbox.container import DockerSandbox

from tests.polling import wait_until

pytestmark = pytest.mark.docker


def _in_thread(sandbox: DockerSandbox, command: str) -> tuple[threading.Thread, list[ExecResult]]:
    results: list[ExecResult] = []
    thread = threading.Thread(target=lambda: results.append(sandbox.exec(command, timeout=120)))
    thread.start()
    return thread, results


def test_interrupt_kills_the_running_command_not_the_shell(sandbox: DockerSandbox, workspace: Path) -> None:
    sandbox.exec("cd /tmp && export KEEP=me")
    began_file = workspace / "began"
    began_file.unlink(missing_ok=True)
    thread, results = _in_thread(sandbox, "echo started; touch /workspace/began; sleep 30 | cat")
    wait_until(began_file.exists, 30, "the command to start")

    asked = time.monotonic()
    sandbox.interrupt()
    thread.join(timeout=10)
    took = time.monotonic() - asked
    assert not thread.is_alive() and took < 2, f"the command ran on for {took:.1f}s after the stop"
    (result,) = results
    assert result.stopped and not result.timed_out and result.exit_code is None
    assert result.output.startswith("started\n")

    refused = sandbox.exec("touch /workspace/after-stop")  # the run is stopping: nothing new starts
    assert refused.stopped and not (workspace / "after-stop").exists()

    sandbox.clear_interrupt()
    after = sandbox.exec('pwd; echo "$KEEP"; pgrep -x sleep | wc -l')
    assert after.output == "/tmp\nme\n1\n"  # same shell; only the container's `sleep infinity` is left
    assert not after.shell_restarted and not after.stopped
    sandbox.exec("cd /workspace")


def test_an_interrupt_between_commands_stops_only_until_cleared(sandbox: DockerSandbox) -> None:
    sandbox.interrupt()
    assert sandbox.exec("echo no").stopped
    sandbox.clear_interrupt()
    sandbox.clear_interrupt()  # idempotent
    result = sandbox.exec("echo yes")
    assert result.output == "yes\n" and result.exit_code == 0 and not result.stopped
