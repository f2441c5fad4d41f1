"""Issue 16, the warm engine: real `qcode` processes, the real engine process (vLLM on CPU, the tiny
model), real Docker and git. Engine starts are expensive here, so this module starts at most
four: first use + attach + keep-alive (1), kill -9 and restart (2), concurrent start, abort
isolation and stop during a run (1). Each test has its own runtime folder and stops its engines.
The cheap parts (wire caps, options, paths, log rotation) are tested first, without an engine.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from qcode.agent.engines.vllm_engine import EngineOptions
from qcode.agent.engines.warm import WarmEngine, engine_paths, engine_status, stop_engine
from qcode.agent.engines.warm.client import STOPPED
from qcode.agent.engines.warm.lifecycle import check_key, probe
from qcode.agent.engines.warm.logs import _copy
from qcode.agent.engines.warm.wire import LineReader, engine_key
from qcode.agent.exceptions import UserError
from qcode.agent.trajectory import read_trajectory
from qcode.tools.builtin import default_registry

from qcode.config import Settings, load_settings
from tests.e2e.helpers import QCODE, run_qcode
from tests.engines.conftest import VLLM_WARNINGS
from tests.engines.listener import StopListening, StoppingListener
from tests.engines.test_fix_vllm import ENGINE_ENV
from tests.nonroot import NonRoot, nonroot
from tests.polling import wait_until

__all__ = ["nonroot"]  # the fixture, imported for pytest

pytestmark = [pytest.mark.filterwarnings(*VLLM_WARNINGS), pytest.mark.timeout(1200)]

WARM_ENV = {**ENGINE_ENV, "QCODE_ENGINE_DAEMON": "true", "QCODE_MAX_TURN_TOKENS": "300"}
TOOLS = default_registry().schemas()


# ---------------------------------------------------------------------- without an engine


def test_a_line_over_the_cap_is_refused_not_buffered() -> None:
    left, right = socket.socketpair()
    with left, right:
        left.sendall(b'{"op": "status"}\n' + b"x" * 5000)
        reader = LineReader(right, limit=1000)
        assert reader.read() == {"op": "status"}
        with pytest.raises(ValueError, match="over 1000 bytes"):
            reader.read()


def test_options_cross_the_wire_and_bad_ones_are_refused() -> None:
    options = EngineOptions(
        tool_choice="required", allowed_tools=("read_file",), max_argument_chars=40, seed=3
    )
    assert EngineOptions.from_wire(json.loads(json.dumps(options.to_wire()))) == options
    with pytest.raises(UserError, match="bad engine options"):
        EngineOptions.from_wire({**options.to_wire(), "tool_choice": "any"})
    with pytest.raises(UserError, match="out of range"):
        EngineOptions.from_wire({**options.to_wire(), "max_argument_chars": 10**6})


def test_mismatched_engine_settings_name_both_fixes() -> None:
    ours = engine_key(Settings(model="m", max_model_len=8192))
    running = {"pid": 42, "key": {**ours, "max_model_len": 16384}}
    with pytest.raises(UserError) as err:
        check_key(running, ours)
    line = str(err.value)
    assert "max_model_len=16384" in line and "max_model_len=8192" in line
    assert "qcode engine stop" in line and "--no-daemon" in line and "\n" not in line


def test_a_repository_cannot_keep_an_engine_up_or_force_the_daemon(tmp_path: Path) -> None:
    for line in ("engine_keep_alive = 10080\n", "engine_daemon = true\n"):
        (tmp_path / ".qcode.toml").write_text(line)
        with pytest.raises(UserError, match="which only you may set"):
            load_settings({}, tmp_path)


def test_engine_folders_are_private_and_a_planted_link_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = Path(tempfile.mkdtemp(prefix="qw-"))
    try:
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
        (runtime / "elsewhere").mkdir()
        (runtime / "qcode").symlink_to(runtime / "elsewhere")
        with pytest.raises(UserError, match="not a folder of yours"):
            engine_paths(tmp_path)
        (runtime / "qcode").unlink()
        paths = engine_paths(tmp_path)
        assert stat.S_IMODE(paths.folder.stat().st_mode) == 0o700
        deep = tmp_path / ("d" * 120)
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(deep))
        paths = engine_paths(tmp_path)  # too long for sun_path: the socket moves, privately
        assert len(str(paths.socket)) < 100 and paths.folder == deep / "qcode"
        assert stat.S_IMODE(paths.socket_folder.stat().st_mode) == 0o700
        shutil.rmtree(paths.socket_folder)
    finally:
        shutil.rmtree(runtime)


def test_the_log_is_capped_and_rotated(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    log = tmp_path / "engine.log"
    copier = threading.Thread(target=_copy, args=(read_end, log, 1000))
    copier.start()
    for _ in range(50):
        os.write(write_end, b"y" * 99 + b"\n")
    os.close(write_end)
    copier.join(timeout=10)
    assert log.stat().st_size <= 1000 and log.with_name("engine.log.1").stat().st_size <= 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["engine.log", "engine.log.1"]


# ---------------------------------------------------------------------- with the real engine


@pytest.fixture
def warm(monkeypatch: pytest.MonkeyPatch, tiny_model_dir: Path) -> Iterator[dict[str, Any]]:
    """Its own runtime folder and the engine settings in the environment; every engine it saw is
    stopped afterwards (its whole process group, vLLM's workers included)."""
    runtime = Path(tempfile.mkdtemp(prefix="qw-"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    for key, value in WARM_ENV.items():
        monkeypatch.setenv(key, value)
    seen: set[int] = set()
    context = {"runtime": runtime, "pids": seen, "model": str(tiny_model_dir)}
    yield context
    settings = _settings(context)
    for engine in engine_status(settings):
        seen.add(engine["pid"])
    stop_engine(settings)
    for pid in seen:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    shutil.rmtree(runtime, ignore_errors=True)


def _settings(warm: dict[str, Any], **flags: Any) -> Settings:
    return load_settings({"model": warm["model"], **flags}).settings


def _status(warm: dict[str, Any]) -> dict[str, Any] | None:
    found = engine_status(_settings(warm))
    if found:
        warm["pids"].add(found[0]["pid"])
    return found[0] if found else None


def _fix(warm: dict[str, Any], repo: Path, steps: int, *extra: str) -> list[str]:
    return [
        "qcode", "fix", "total([1, 2]) returns 4", "--repo", str(repo), "--engine", "vllm",
        "--model", warm["model"], "--max-steps", str(steps), "--json", *extra,
    ]  # fmt: skip


def _result(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.stdout.strip(), done.stderr[-3000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _as_other_user(nonroot: NonRoot, path: Path) -> str:
    """What another uid gets when it connects to the socket and asks for the status."""
    code = (
        "import socket,sys\n"
        "s=socket.socket(socket.AF_UNIX)\n"
        "try:\n s.connect(sys.argv[1])\n"
        "except OSError as e: print('refused', e.errno); sys.exit()\n"
        "try:\n s.sendall(b'{\"op\": \"status\"}\\n'); print('answer', repr(s.recv(100)))\n"
        "except OSError as e: print('hung up', e.errno)\n"
    )
    done = subprocess.run(
        [*nonroot.prefix, sys.executable, "-c", code, str(path)], capture_output=True, text=True
    )
    return done.stdout.strip() or done.stderr


@pytest.mark.docker
def test_first_use_starts_the_second_attaches_then_keep_alive_ends_it(
    warm: dict[str, Any], make_repo, nonroot: NonRoot, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("QCODE_ENGINE_KEEP_ALIVE", "1")  # a minute after the last request
    repo = make_repo({"cart.py": "def total(items):\n    return sum(items) + 1\n"})
    first = run_qcode(*_fix(warm, repo, 2)[1:], timeout=900)
    assert _result(first)["steps"] == 2 and "started the warm engine" in first.stderr, first.stderr[-3000:]
    engine = _status(warm)
    assert engine is not None and engine["requests"] == 2

    second = run_qcode(*_fix(warm, repo, 2)[1:], timeout=600)
    assert _result(second)["steps"] == 2
    assert f"attached to the warm engine (pid {engine['pid']}" in second.stderr, second.stderr[-3000:]
    status = json.loads(run_qcode("engine", "status", "--json").stdout)
    assert [e["pid"] for e in status["engines"]] == [engine["pid"]]  # one engine served both
    served = status["engines"][0]
    assert served["requests"] == 4 and served["sessions"] == 0 and served["aborted"] == 0
    assert served["tokens_in"] > 0 and served["tokens_out"] > 0 and served["prefix_cache_hit_rate"] > 0

    # Another front door with another engine-level setting: one line, both fixes, nothing started.
    other = run_qcode(*_fix(warm, repo, 2)[1:], env={"QCODE_MAX_MODEL_LEN": "8192"}, timeout=120)
    errors = [line for line in other.stderr.splitlines() if line.startswith("qcode:")]
    assert other.returncode == 2 and len(errors) == 1, other.stderr[-2000:]
    assert "qcode engine stop" in errors[0] and "--no-daemon" in errors[0]

    # Another uid: the 0600 socket refuses it; loosened by hand, the engine still hangs up on it.
    sock = engine_paths(_settings(warm).state_dir).socket
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600
    if nonroot.uid != os.geteuid():
        assert _as_other_user(nonroot, sock).startswith("refused 13")
        sock.chmod(0o666)
        assert _as_other_user(nonroot, sock) in ("answer b''", "hung up 32", "hung up 104")  # no answer

    wait_until(lambda: _status(warm) is None, 200, "the keep-alive to end the engine")
    gone = lambda: not Path(f"/proc/{engine['pid']}").exists() or _zombie(engine["pid"])  # noqa: E731
    wait_until(gone, 120, "the engine process to exit")
    assert json.loads(run_qcode("engine", "status", "--json").stdout) == {"engines": []}
    logs = run_qcode("engine", "logs", "-n", "50")
    assert logs.returncode == 0 and f"{engine['pid']}: ready on" in logs.stdout
    assert f"{engine['pid']}: stopped" in logs.stdout


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_bytes().split(b") ", 1)[-1][:1] == b"Z"
    except FileNotFoundError:  # it ended between the two looks
        return True


@pytest.mark.docker
def test_kill_9_between_turns_restarts_the_engine_and_the_run_goes_on(
    warm: dict[str, Any], make_repo
) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo({"cart.py": "def total(items):\n    return sum(items) + 1\n"})
    with subprocess.Popen(
        _fix(warm, repo, 3),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    ) as run:
        first = wait_until(lambda: (s := _status(warm)) and s["requests"] >= 1 and s, 600, "a first turn")
        os.killpg(first["pid"], signal.SIGKILL)  # the engine and its vLLM workers, as a crash would
        out, err = run.communicate(timeout=600)
    result = json.loads(out.strip().splitlines()[-1])
    # As an unkilled run ends: its three steps, the step limit.
    assert result["steps"] == 3 and "step limit" in result["reason"] and run.returncode == 1, err[-3000:]
    assert "the warm engine was lost" in err
    notices = [r for r in read_trajectory(Path(result["trajectory"])) if r["type"] == "notice"]
    assert any("restarted it" in n["text"] for n in notices), notices
    again = _status(warm)
    assert again is not None and again["pid"] != first["pid"]


@pytest.mark.docker
def test_one_engine_for_two_starts_abort_isolation_and_stop_during_a_run(
    warm: dict[str, Any], make_repo
) -> None:  # type: ignore[no-untyped-def]
    starts = [
        subprocess.Popen(
            [*QCODE, "engine", "start", "--model", warm["model"]], stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    said = sorted(p.communicate(timeout=900)[1] for p in starts)
    assert [p.returncode for p in starts] == [0, 0], said
    engine = _status(warm)
    assert engine is not None
    assert (
        "already running" in said[0] and "started" in said[1] and all(str(engine["pid"]) in s for s in said)
    )

    # Two sessions at once; Esc in one (its token callback raises) aborts only its request.
    escaping, listening = WarmEngine(_settings(warm)), WarmEngine(_settings(warm))
    outcome: dict[str, Any] = {}

    def esc() -> None:
        try:
            escaping.complete(_conversation("a"), TOOLS, on_token=StoppingListener(after=3))
        except StopListening:
            outcome["stopped"] = True

    def listen() -> None:
        outcome["turn"] = listening.complete(_conversation("b"), TOOLS)

    threads = [threading.Thread(target=esc), threading.Thread(target=listen)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert outcome["stopped"] and outcome["turn"].finish_reason is not None
    assert [c.problem for c in outcome["turn"].tool_calls] == [None]
    counted = wait_until(lambda: (s := _status(warm)) and s["running"] == 0 and s, 60, "the abort")
    assert counted["aborted"] == 1 and counted["requests"] == 2 and counted["sessions"] == 2
    escaping.close()
    listening.close()

    # `qcode engine stop` during a run: the run ends with the one-line reason, its work kept.
    repo = make_repo({"cart.py": "def total(items):\n    return sum(items) + 1\n"})
    with subprocess.Popen(
        _fix(warm, repo, 50),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    ) as run:
        wait_until(lambda: (s := _status(warm)) and s["requests"] >= 3, 600, "the run's first turn")
        stopped = run_qcode("engine", "stop", timeout=200)
        out, err = run.communicate(timeout=600)
    assert stopped.returncode == 0 and f"pid {engine['pid']}" in stopped.stderr
    result = json.loads(out.strip().splitlines()[-1])
    assert result["status"] == "error" and result["reason"] == STOPPED and run.returncode == 1, err[-3000:]
    records = read_trajectory(Path(result["trajectory"]))
    turns = [r for r in records if r["type"] == "turn"]
    answered = {r["call_id"] for r in records if r["type"] == "observation"}
    # Every served turn is in the trajectory with its calls answered; only the stopped one is missing.
    assert len(turns) == result["steps"] - 1 >= 1
    assert all(call["id"] in answered for turn in turns for call in turn["tool_calls"])
    assert result["branch"] is None or result["branch"] in _branches(repo)  # a branch when files changed
    assert probe(engine_paths(_settings(warm).state_dir)) is None  # stopped, and not restarted


def _conversation(nonce: str) -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": f"You are qcode. {nonce}"},
        {"role": "user", "content": "The tests in test_cart.py fail; fix apply_discount."},
    ]


def _branches(repo: Path) -> str:
    return subprocess.run(["git", "-C", str(repo), "branch", "--list"], capture_output=True, text=True).stdout
