"""Run a host-side helper (ripgrep, git) whose output the workspace controls, keeping at most a
fixed number of bytes of it: qcode's memory never grows with what a hostile repository makes a
program print. Past the cap the program is killed; the caller says the output was cut."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

__all__ = ["Bounded", "run_bounded"]

STDERR_LIMIT = 64_000
"""Bytes of stderr kept: enough for any error message, never a stream."""


@dataclass
class Bounded:
    stdout: bytes
    stderr: bytes
    returncode: int
    truncated: bool = False
    """stdout reached the cap; the program was stopped there."""
    timed_out: bool = False


def run_bounded(
    argv: Sequence[str],
    cwd: Path | str,
    *,
    limit: int,
    timeout: float,
    env: dict[str, str] | None = None,
    stdout: IO[bytes] | None = None,
) -> Bounded:
    """Run `argv`, keeping the first `limit` bytes of stdout (or copying at most `limit` bytes to
    the open file `stdout`) and STDERR_LIMIT bytes of stderr; kill its process group past either
    the cap or `timeout` seconds."""
    proc = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # one kill stops the program and its children
    )
    assert proc.stdout is not None and proc.stderr is not None
    out, err = _Stream(limit, stdout), _Stream(STDERR_LIMIT, None)
    streams = {proc.stdout.fileno(): out, proc.stderr.fileno(): err}
    timed_out = False
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        for fd in streams:
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map() and not out.full:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            for key, _ in selector.select(left):
                chunk = os.read(key.fd, 65536)
                if chunk:
                    streams[key.fd].take(chunk)
                else:
                    selector.unregister(key.fd)
    if out.full or timed_out:
        _kill(proc)
    try:  # both pipes closed, yet the program may linger: the deadline still holds
        code = proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill(proc)
        code = proc.wait()
    proc.stdout.close()
    proc.stderr.close()
    return Bounded(bytes(out.kept), bytes(err.kept), code, out.full, timed_out)


class _Stream:
    """One pipe's bytes up to a cap, kept in memory or copied to `sink`."""

    def __init__(self, cap: int, sink: IO[bytes] | None) -> None:
        self.cap, self.sink = cap, sink
        self.kept = bytearray()
        self.count = 0
        self.full = False
        """More arrived than the cap allows."""

    def take(self, chunk: bytes) -> None:
        part = chunk[: max(self.cap - self.count, 0)]
        self.count += len(part)
        self.full |= len(part) < len(chunk)
        if self.sink is not None:
            self.sink.write(part)
        else:
            self.kept += part


def _kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
