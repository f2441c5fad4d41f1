"""The CLI progress view: short successes, readable failures, the plan as a list, a heartbeat, and
a clean Ctrl-C."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from qcode.agent.contracts import PlanStep
from qcode.agent.events import Notice, ObservationMade, PlanUpdated, ToolCalled
from rich.console import Console

from qcode.progress import ProgressPrinter, failure_lines, success_line
from tests.e2e.helpers import default_sigint, raw_call, write_replay
from tests.polling import wait_until

PYTEST_FAIL = "\n".join(
    [
        "F.                                                                       [100%]",
        "=================================== FAILURES ===================================",
        "____________________________________ test_mean _________________________________",
        "    def test_mean():",
        ">       assert mean([2, 4, 6]) == 4",
        "E       assert 3.0 == 4",
        "test_stats.py:5: AssertionError",
        "FAILED test_stats.py::test_mean - assert 3.0 == 4",
        "1 failed, 1 passed in 0.03s",
        "[exit code: 1]",
    ]
)


def _printer(heartbeat: float = 60) -> tuple[ProgressPrinter, io.StringIO]:
    out = io.StringIO()
    return ProgressPrinter(Console(file=out, width=200, color_system=None), heartbeat=heartbeat), out


def _observation(name: str, ok: bool, text: str) -> ObservationMade:
    return ObservationMade(step=1, call_id="c1", name=name, ok=ok, text=text)


def test_a_success_shows_its_last_line_and_a_failure_a_few_whole_lines() -> None:
    assert success_line("...\n3 passed in 0.01s\n[exit code: 0]") == "3 passed in 0.01s  [exit code: 0]"
    # the shell tool's real layout: the status is the header line, the output follows
    assert success_line("[exit code: 0]\n...\n3 passed in 0.01s") == "3 passed in 0.01s  [exit code: 0]"
    header_first = "[exit code: 1]\n" + PYTEST_FAIL.removesuffix("\n[exit code: 1]")
    assert failure_lines(header_first) == failure_lines(PYTEST_FAIL)
    assert success_line("Edited a.py:\n@@ -1 +1 @@") == "Edited a.py:"
    lines = failure_lines(PYTEST_FAIL)
    assert lines[0] == "… 5 earlier lines" and lines[-1] == "[exit code: 1]"
    assert "E       assert 3.0 == 4" in lines and "1 failed, 1 passed in 0.03s" in lines
    assert not any("⏎" in line for line in lines)

    printer, out = _printer()
    printer(_observation("shell", True, "[exit code: 0]\n3 passed in 0.01s"))
    printer(_observation("shell", False, PYTEST_FAIL))
    text = out.getvalue()
    assert "✓ 3 passed in 0.01s" in text
    assert "E       assert 3.0 == 4" in text and "FAILED test_stats.py::test_mean" in text
    assert "⏎" not in text


def test_the_plan_prints_as_a_list_not_a_repr() -> None:
    printer, out = _printer()
    plan = [{"step": "Reproduce", "status": "done"}, {"step": "Fix mean", "status": "in_progress"}]
    printer(ToolCalled(step=1, call_id="c1", name="update_plan", arguments={"plan": plan}))
    printer(PlanUpdated(step=1, plan=[PlanStep.model_validate(step) for step in plan]))
    text = out.getvalue()
    assert "{'step'" not in text and "[{" not in text
    assert "✓ Reproduce" in text and "▶ Fix mean" in text


def test_info_notices_are_not_dark_blue() -> None:
    out = io.StringIO()
    printer = ProgressPrinter(Console(file=out, force_terminal=True, color_system="256"))
    printer(Notice(level="info", text="verify `pytest`: exit 0"))
    assert "\x1b[34m" not in out.getvalue() and "verify" in out.getvalue()


def test_a_long_command_gets_a_heartbeat_until_it_ends() -> None:
    printer, out = _printer(heartbeat=0.05)
    printer(ToolCalled(step=1, call_id="c1", name="shell", arguments={"command": "sleep 30"}))
    wait_until(lambda: "shell still running" in out.getvalue(), 10, "a heartbeat")
    printer(_observation("shell", True, "[exit code: 0]"))
    beats = out.getvalue().count("still running")
    after = out.getvalue()
    printer(ToolCalled(step=2, call_id="c2", name="read_file", arguments={"path": "a"}))
    printer(_observation("read_file", True, "1 x"))
    assert out.getvalue().startswith(after) and beats >= 1
    assert out.getvalue().count("still running") == beats  # the first heartbeat stopped with its call


@pytest.mark.docker
def test_ctrl_c_prints_one_clean_line_and_exits_130(make_repo, tmp_path: Path, isolated_state: Path) -> None:
    repo = make_repo({"a.txt": "a\n"})
    replay = write_replay(tmp_path / "r.jsonl", [raw_call("shell", command="touch began; sleep 30")])
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "qcode",
            "fix",
            "slow",
            "--repo",
            str(repo),
            "--engine",
            f"replay:{replay}",
            "--yes",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,
    )
    try:
        began = lambda: any(isolated_state.glob("sessions/*/workspace/began"))  # noqa: E731
        wait_until(began, 60, "the command to start")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert "KeyboardInterrupt" not in err and "Traceback" not in err
    assert err.strip().splitlines()[-1] == "qcode: interrupted; the sandbox was removed"
