"""The real `qcode tui` in a real terminal (tmux, 120×40): task → plan, cards, branch; ctrl+q exits 0."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.helpers import qcode_containers, write_replay
from tests.polling import wait_until
from tests.tui.conftest import fix_turns

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux (apt-get install tmux)"),
]


QCODE = f"{shlex.quote(sys.executable)} -m qcode"
"""This interpreter's qcode, whatever `qcode` is first on PATH."""


class Terminal:
    """One tmux server of our own (its own socket), one 120×40 window running a command."""

    def __init__(self, socket: Path) -> None:
        self.base = ["tmux", "-S", str(socket)]

    def start(self, command: str, env: dict[str, str]) -> None:
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        subprocess.run(
            [
                *self.base,
                "new-session",
                "-d",
                "-x",
                "120",
                "-y",
                "40",
                "-s",
                "qcode",
                f"env -i {exports} {command}",
            ],
            check=True,
        )

    def keys(self, *keys: str, literal: bool = False) -> None:
        flags = ["-l"] if literal else []
        subprocess.run([*self.base, "send-keys", "-t", "qcode", *flags, *keys], check=True)

    def paste(self, text: str) -> None:
        """Paste as a terminal does: bracketed (-p) when the app asked for it, every newline kept (-r)."""
        subprocess.run([*self.base, "set-buffer", "-b", "clip", "--", text], check=True)
        subprocess.run(
            [*self.base, "paste-buffer", "-p", "-r", "-d", "-b", "clip", "-t", "qcode"], check=True
        )

    def screen(self) -> str:
        capture = [*self.base, "capture-pane", "-p", "-t", "qcode"]
        return subprocess.run(capture, capture_output=True, text=True).stdout

    def wait_for(self, predicate: Callable[[str], bool], what: str, timeout: float = 30.0) -> str:
        """Poll the pane until `predicate` holds, up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if predicate(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; screen:\n{screen}")
            time.sleep(0.1)  # polling interval of capture-pane, not synchronisation

    def kill(self) -> None:
        subprocess.run([*self.base, "kill-server"], capture_output=True)


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    term = Terminal(tmp_path / "tmux.sock")
    yield term
    term.kill()


def _terminal_env() -> dict[str, str]:
    env = {
        name: os.environ[name]
        for name in (
            "PATH",
            "HOME",
            "QCODE_STATE_DIR",
            "QCODE_CONFIG",
            "QCODE_SANDBOX_IMAGE",
            "QCODE_PLAN_FIRST",
        )
        if name in os.environ
    }
    env["TERM"] = "xterm-256color"
    return env


def test_qcode_tui_in_tmux(terminal: Terminal, make_repo, tmp_path: Path, isolated_state: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.tui.conftest import BUGGY, TEST

    repo = make_repo({"stats.py": BUGGY, "test_stats.py": TEST})
    replay = write_replay(tmp_path / "turns.jsonl", fix_turns())
    status_file = tmp_path / "exit-status"
    env = _terminal_env()
    inner = f"{QCODE} tui --repo {repo} --engine replay:{replay} --approval yolo; echo $? > {status_file}"
    command = f"sh -c {shlex.quote(inner)}"
    terminal.start(command, env)
    terminal.wait_for(lambda s: "Describe a task" in s, "the app to start")
    terminal.wait_for(lambda s: " idle " in s, "the session to be ready")

    started = time.monotonic()
    terminal.keys("fix mean in stats.py", literal=True)
    terminal.keys("Enter")
    screen = terminal.wait_for(lambda s: "resolved: finished" in s, "the finished state")
    elapsed = time.monotonic() - started
    assert elapsed < 30
    assert "plan 2/2" in screen and "✓ Reproduce" in screen and "✓ Fix mean" in screen
    assert "✓ edit_file  stats.py" in screen and "✗ shell  python -m pytest -q" in screen
    assert "branch qcode/fix-mean-in-stats-py" in screen
    (tmp_path / "finished-screen.txt").write_text(screen)
    if os.environ.get("QCODE_TUI_SCREEN_OUT"):
        Path(os.environ["QCODE_TUI_SCREEN_OUT"]).write_text(screen)

    (session_id,) = [p.name for p in (isolated_state / "sessions").iterdir()]
    terminal.keys("C-q")
    deadline = time.monotonic() + 30
    while not status_file.exists() or not status_file.read_text().strip():
        assert time.monotonic() < deadline, f"qcode did not exit; screen:\n{terminal.screen()}"
        time.sleep(0.1)
    assert status_file.read_text().strip() == "0"
    assert qcode_containers(session_id) == []


def test_fix_asks_about_a_dirty_checkout_before_the_engine_loads(
    terminal: Terminal,
    make_repo,
    tmp_path: Path,
    isolated_state: Path,  # type: ignore[no-untyped-def]
) -> None:
    repo = make_repo({"a.py": "x = 1\n"})
    (repo / "a.py").write_text("x = 2\n")  # the user's uncommitted edit
    status_file = tmp_path / "exit-status"
    # A replay file that does not exist: were the engine built before the question, this would fail.
    engine = f"replay:{tmp_path}/missing.jsonl"
    inner = f"qcode fix 'x is wrong' --repo {repo} --engine {engine}; echo $? > {status_file}; read _"
    terminal.start(f"sh -c {shlex.quote(inner)}", _terminal_env())
    terminal.wait_for(lambda s: "uncommitted changes" in s and "Continue?" in s, "the question")
    terminal.keys("n", "Enter")
    status = wait_until(lambda: status_file.exists() and status_file.read_text().strip(), 30, "qcode's exit")
    screen = terminal.screen()  # the pane stays open: `read _`
    assert status == "1" and "qcode: nothing done" in screen  # an answer, not a Ctrl-C (130)
    assert "missing.jsonl" not in screen.split("Continue?")[1]
    assert (repo / "a.py").read_text() == "x = 2\n" and not (isolated_state / "sessions").exists()


def test_a_pasted_traceback_arrives_whole_in_a_real_terminal(
    terminal: Terminal,
    make_repo,
    tmp_path: Path,
    isolated_state: Path,  # type: ignore[no-untyped-def]
) -> None:
    from tests.e2e.helpers import raw_call
    from tests.tui.test_prompt import TRACEBACK

    repo = make_repo({"stats.py": "def mean(v):\n    return 0\n"})
    replay = write_replay(tmp_path / "turns.jsonl", [raw_call("finish", summary="read it")])
    status_file = tmp_path / "exit-status"
    inner = f"{QCODE} tui --repo {repo} --engine replay:{replay} --approval yolo; echo $? > {status_file}"
    terminal.start(f"sh -c {shlex.quote(inner)}", _terminal_env())
    terminal.wait_for(lambda s: " idle " in s, "the session to be ready")
    try:
        terminal.keys("explain:", literal=True)
        terminal.keys("C-j")  # a new line, not a send
        terminal.paste(TRACEBACK + "\n")
        screen = terminal.wait_for(lambda s: "ZeroDivisionError" in s, "the pasted text in the prompt")
        assert " idle " in screen  # neither the paste's newlines nor its last one sent it
        terminal.keys("Enter")
        terminal.wait_for(lambda s: "unresolved" in s, "the run to end")
        (folder,) = (isolated_state / "sessions").iterdir()
        records = [json.loads(line) for line in (folder / "trajectory.jsonl").read_text().splitlines()]
        (task,) = [r["text"] for r in records if r["type"] == "user_message"]
        assert f"explain:\n{TRACEBACK}" in task
    finally:  # quit cleanly even when an assertion failed: the sandbox and the mount go with it
        terminal.keys("C-q")
        wait_until(lambda: status_file.exists() and status_file.read_text().strip(), 30, "qcode to exit")
    assert status_file.read_text().strip() == "0" and not qcode_containers(folder.name)
