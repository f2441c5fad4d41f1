"""Starting, finding and stopping the warm engine: one per user, started once under a lock.

A socket that answers `status` is a live engine; one that refuses (or a missing one) means none,
and a leftover socket file is removed before a new engine binds its own.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from qcode.agent.engines.vllm_setup import model_config
from qcode.agent.engines.warm.logs import tail
from qcode.agent.engines.warm.paths import EnginePaths, engine_paths
from qcode.agent.engines.warm.wire import LineReader, engine_key, send
from qcode.agent.exceptions import EngineError, UserError

__all__ = ["ERROR_MARK", "engine_status", "ensure_engine", "probe", "stop_engine", "stopped_since"]

START_TIMEOUT = 1800.0
"""Seconds a model may take to load (a 56 GB model from a slow disk takes minutes)."""
STOP_TIMEOUT = 120.0
PROBE_TIMEOUT = 10.0
ERROR_MARK = "qcode-engine-error: "
"""The engine process prints this before the one-line reason it could not start."""


def connect(paths: EnginePaths, timeout: float | None = PROBE_TIMEOUT) -> socket.socket | None:
    """A connection to the engine, or None when no engine listens (no socket, or a stale one)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(paths.socket))
    except (FileNotFoundError, ConnectionRefusedError):
        sock.close()
        return None
    except OSError:
        sock.close()
        raise
    return sock


def ask(paths: EnginePaths, message: dict[str, Any]) -> dict[str, Any] | None:
    """One request, one answer; None when no engine listens or it hung up without answering."""
    sock = connect(paths)
    if sock is None:
        return None
    with sock:
        try:
            send(sock, message)
            return LineReader(sock, 1 << 20).read()
        except (OSError, ValueError):
            return None


def probe(paths: EnginePaths) -> dict[str, Any] | None:
    answer = ask(paths, {"op": "status"})
    return answer.get("status") if answer else None


def engine_status(settings: Any) -> list[dict[str, Any]]:
    """The running engines (one today), each as `qcode engine status --json` lists it."""
    status = probe(engine_paths(settings.state_dir))
    return [status] if status else []


def ensure_engine(settings: Any) -> tuple[dict[str, Any], bool]:
    """The warm engine's status, starting it when none runs; (status, started here). UserError when
    the running one has other engine-level settings."""
    paths = engine_paths(settings.state_dir)
    started = False
    status = probe(paths)
    if status is None:
        with _locked(paths):  # two front doors starting at once: the second waits, then attaches
            status = probe(paths)
            if status is None:
                model_config(settings.model)  # missing weights: the one-line fix now, not after a spawn
                status, started = _start(settings, paths), True
    check_key(status, engine_key(settings))
    return status, started


def check_key(status: dict[str, Any], key: dict[str, Any]) -> None:
    running = status.get("key", {})
    differ = [name for name in key if running.get(name) != key[name]]
    if differ:
        theirs = ", ".join(f"{name}={running.get(name)}" for name in differ)
        ours = ", ".join(f"{name}={key[name]}" for name in differ)
        raise UserError(
            f"the warm engine (pid {status.get('pid')}) runs {theirs}, this run asks for {ours}: "
            "stop it with `qcode engine stop`, or pass --no-daemon to load the model in-process"
        )


@contextmanager
def _locked(paths: EnginePaths) -> Iterator[None]:
    fd = os.open(paths.lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _start(settings: Any, paths: EnginePaths) -> dict[str, Any]:
    paths.socket.unlink(missing_ok=True)  # stale: nothing answered on it
    _stopped_marker(paths).unlink(missing_ok=True)
    config = settings.model_dump(mode="json", exclude={"openai_api_key"})
    process = subprocess.Popen(
        [sys.executable, "-m", "qcode.agent.engines.warm.server"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=paths.folder,
        start_new_session=True,  # Ctrl-C in the terminal that started it must not reach it
    )
    assert process.stdin is not None
    process.stdin.write(json.dumps(config).encode())
    process.stdin.close()
    # Reap it when it ends (no zombie, no warning); the engine outlives this process otherwise.
    threading.Thread(target=process.wait, daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while time.monotonic() < deadline:
            status = probe(paths)
            if status is not None:
                return status
            if process.poll() is not None:
                raise _start_failure(paths)
            time.sleep(0.2)
        raise EngineError(
            f"the warm engine did not start within {START_TIMEOUT:.0f} s; `qcode engine logs` says why"
        )
    except BaseException:
        # Ctrl-C while the model loads, or the time limit: a half-started engine (and vLLM's workers
        # in its process group) must not hold the GPU unseen while the next command starts another.
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        raise


def _start_failure(paths: EnginePaths) -> UserError:
    lines = tail(paths.log, 400).splitlines()
    reasons = [line.split(ERROR_MARK, 1)[1] for line in lines if ERROR_MARK in line]
    last = reasons[-1] if reasons else next((line for line in reversed(lines) if line.strip()), "no log")
    return UserError(
        f"the warm engine could not start: {last[:400]} (`qcode engine logs` has the rest; "
        "--no-daemon loads the model in-process)"
    )


def _stopped_marker(paths: EnginePaths) -> Path:
    return paths.folder / "engine.stopped"


def stopped_since(settings: Any, since: float) -> bool:
    """Whether `qcode engine stop` ran after `since` (wall-clock): a session must not restart it."""
    marker = _stopped_marker(engine_paths(settings.state_dir))
    try:
        return marker.stat().st_mtime >= since
    except FileNotFoundError:
        return False


def stop_engine(settings: Any) -> dict[str, Any] | None:
    """Stop the warm engine and wait for its process to end; its last status, or None if none ran."""
    paths = engine_paths(settings.state_dir)
    _stopped_marker(paths).touch()
    answer = ask(paths, {"op": "stop"})
    if answer is None:
        paths.socket.unlink(missing_ok=True)
        return None
    status: dict[str, Any] = answer.get("status", {})
    pid = int(status.get("pid", 0))
    deadline = time.monotonic() + STOP_TIMEOUT
    while pid and _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return status


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:  # a zombie has ended
            return handle.read().split(b") ", 1)[-1][:1] != b"Z"
    except FileNotFoundError:
        return False
    except OSError:
        return True
