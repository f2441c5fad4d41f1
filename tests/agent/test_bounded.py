"""agent/bounded.py: a helper's output is kept up to a cap, and the helper is stopped there."""

from __future__ import annotations

import io
from pathlib import Path

from qcode.agent.bounded import STDERR_LIMIT, run_bounded


def test_output_past_the_cap_is_cut_and_the_program_killed(tmp_path: Path) -> None:
    done = run_bounded(["sh", "-c", "yes; echo never-here"], tmp_path, limit=1000, timeout=30)
    assert len(done.stdout) == 1000 and done.truncated and not done.timed_out
    assert done.returncode != 0  # killed, not finished


def test_small_output_stderr_and_exit_code(tmp_path: Path) -> None:
    script = f"echo out; head -c {STDERR_LIMIT * 2} /dev/zero >&2; exit 3"
    done = run_bounded(["sh", "-c", script], tmp_path, limit=1000, timeout=30)
    assert (done.stdout, done.returncode, done.truncated) == (b"out\n", 3, False)
    assert len(done.stderr) == STDERR_LIMIT


def test_timeout_kills_the_process_group(tmp_path: Path) -> None:
    done = run_bounded(["sh", "-c", "sleep 30 & sleep 30"], tmp_path, limit=10, timeout=0.3)
    assert done.timed_out and done.stdout == b""


def test_stream_to_a_sink_keeps_nothing_in_memory(tmp_path: Path) -> None:
    sink = io.BytesIO()
    done = run_bounded(["sh", "-c", "head -c 5000 /dev/zero"], tmp_path, limit=4096, timeout=30, stdout=sink)
    assert done.stdout == b"" and len(sink.getvalue()) == 4096 and done.truncated


def test_a_program_that_closes_its_pipes_and_lingers_is_stopped_at_the_deadline(tmp_path: Path) -> None:
    done = run_bounded(["sh", "-c", "exec >&- 2>&-; sleep 30"], tmp_path, limit=10, timeout=0.5)
    assert done.timed_out
