"""qcode's log: level from --log-level / QCODE_LOG, held until the session folder is known, capped."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from qcode.agent import logs
from qcode.agent.exceptions import UserError


@pytest.fixture(autouse=True)
def fresh_logger() -> Iterator[logging.Logger]:
    """Each test starts from qcode's logger as the import left it, and leaves it so."""
    root = logging.getLogger("qcode")
    handlers, level = list(root.handlers), root.level
    root.handlers = [h for h in handlers if isinstance(h, logging.NullHandler)]
    yield root
    for handler in root.handlers:
        handler.close()
    root.handlers, root.level = handlers, level


def test_flag_beats_env_beats_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QCODE_LOG", raising=False)
    assert logs.resolve_level(None) == logging.INFO
    monkeypatch.setenv("QCODE_LOG", "DEBUG")
    assert logs.resolve_level(None) == logging.DEBUG
    assert logs.resolve_level("error") == logging.ERROR
    monkeypatch.setenv("QCODE_LOG", "loud")
    with pytest.raises(UserError, match="bad log level 'loud'"):
        logs.resolve_level(None)


def test_records_before_the_session_reach_its_file_and_the_level_holds(tmp_path: Path) -> None:
    logs.configure(logging.INFO)
    logging.getLogger("qcode.agent.engines").info("engine replay:x: starting")
    logging.getLogger("qcode.runner").debug("not at info")
    path = logs.log_to_session(tmp_path / "sessions" / "s1")  # made on the first record
    logging.getLogger("qcode.sandbox.container").info("sandbox abc: started")
    text = path.read_text()
    assert "INFO qcode.agent.engines [MainThread]: engine replay:x: starting" in text
    assert "sandbox abc: started" in text and "not at info" not in text


def test_the_next_session_gets_its_own_file(tmp_path: Path) -> None:
    logs.configure(logging.INFO)
    first = logs.log_to_session(tmp_path / "a")
    logging.getLogger("qcode").info("one")
    second = logs.log_to_session(tmp_path / "b")
    logging.getLogger("qcode").info("two")
    assert "two" not in first.read_text() and "two" in second.read_text()


def test_a_chatty_run_stays_under_the_cap(tmp_path: Path) -> None:
    logs.configure(logging.DEBUG)
    path = logs.log_to_session(tmp_path)
    line = "x" * 1000
    for _ in range(6 * logs.MAX_BYTES // 1000):  # six caps' worth
        logging.getLogger("qcode.loop").debug(line)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == [logs.LOG_FILE, f"{logs.LOG_FILE}.1", f"{logs.LOG_FILE}.2"]
    assert all((tmp_path / name).stat().st_size <= logs.MAX_BYTES for name in files)
    assert path.stat().st_size > 0


def _qcode(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qcode", *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
        env={**os.environ, **env},
    )


@pytest.mark.slow
def test_cli_takes_the_flag_and_refuses_a_bad_env_in_one_line(tmp_path: Path) -> None:
    ok = _qcode("--log-level", "debug", "config", "--repo", str(tmp_path), env={})
    assert ok.returncode == 0, ok.stderr
    bad = _qcode("config", "--repo", str(tmp_path), env={"QCODE_LOG": "loud"})
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "qcode: bad log level 'loud' (--log-level or QCODE_LOG); use one of debug, info, warning, error"
    ]
