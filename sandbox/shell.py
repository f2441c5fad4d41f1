"""The persistent-shell protocol: one long-lived bash per session over an attached `docker exec`.

The pure pieces (command encoding, Docker stream framing, marker scanning, head+tail capping)
sit at module level and are tested without Docker; `PersistentShell` does the socket I/O.

Wire protocol: each command goes to bash's stdin as one line,

    builtin eval $'<command, ANSI-C quoted>' </dev/null;
    builtin printf -v __qcode_m '\\n%s %d\\n' MARK "$?"; builtin echo -n "$__qcode_m"

so cwd and exported variables persist (eval runs in the shell itself), commands that read
stdin get EOF instead of hanging, and the output ends with a newline, a marker that holds a
per-session random nonce plus a sequence number, and the exit code.
"""

from __future__ import annotations

import codecs
import os
import secrets
import select
import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "FrameDecoder",
    "HeadTailBuffer",
    "MarkerScanner",
    "PersistentShell",
    "ShellDied",
    "ShellOutcome",
    "Stopper",
    "encode_command",
    "kill_tree_script",
    "omission_note",
]

_HEADER = struct.Struct(">BxxxL")
_CHUNK = 1 << 16
_GRACE = 1.0
"""Seconds to wait for a killed command's marker before declaring the shell stuck."""


def ansi_c_quote(text: str) -> str:
    """Quote `text` as a bash $'...' word that stays on one line and holds any byte sequence."""
    out = ["$'"]
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == "'":
            out.append("\\'")
        elif ch == "\n":
            out.append("\\n")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")  # CR, tabs, escapes: keep the line single
        else:
            out.append(ch)
    out.append("'")
    return "".join(out)


def encode_command(command: str, marker: str) -> bytes:
    """The one line sent to bash for `command`; `marker` is nonce+sequence, printed after it."""
    command = command.replace("\x00", "")  # bash strings cannot hold NUL
    # printf formats into a variable and echo writes it in one go: printf writing straight to
    # stdout emits the leading newline separately, and background output could land in between.
    line = (
        f"builtin eval {ansi_c_quote(command)} </dev/null; "
        f'builtin printf -v __qcode_m \'\\n%s %d\\n\' {marker} "$?"; builtin echo -n "$__qcode_m"\n'
    )
    return line.encode("utf-8", "surrogateescape")


class FrameDecoder:
    """Splits Docker's multiplexed attach stream (8-byte header: stream, 0,0,0, length)."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._left = 0  # payload bytes still owed by the current frame

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Yield payload bytes (stdout and stderr alike) as soon as they are available."""
        self._buf += data
        while self._buf:
            if self._left == 0:
                if len(self._buf) < _HEADER.size:
                    return
                _stream, self._left = _HEADER.unpack_from(self._buf)
                del self._buf[: _HEADER.size]
                continue
            take = min(self._left, len(self._buf))
            chunk = bytes(self._buf[:take])
            del self._buf[:take]
            self._left -= take
            yield chunk


class MarkerScanner:
    """Finds `\\n<marker> <exit code>\\n` in a byte stream that may split it anywhere."""

    def __init__(self, marker: str) -> None:
        self._needle = b"\n" + marker.encode() + b" "
        self._carry = b""
        self.exit_code: int | None = None
        self.done = False
        self.rest = b""
        """Bytes after the marker line in the chunk that completed it."""

    def feed(self, data: bytes) -> bytes:
        """Return the bytes that are certainly output; keep a possible partial marker back."""
        if self.done:
            return b""
        buf = self._carry + data
        at = buf.find(self._needle)
        if at >= 0:
            end = buf.find(b"\n", at + len(self._needle))
            if end < 0:
                self._carry = buf[at:]
                return buf[:at]
            code = buf[at + len(self._needle) : end]
            self.exit_code = int(code) if code.lstrip(b"-").isdigit() else None
            self.done = True
            self.rest = buf[end + 1 :]
            self._carry = b""
            return buf[:at]
        keep = len(self._needle) - 1
        self._carry = buf[-keep:] if len(buf) > keep else buf
        return buf[: len(buf) - len(self._carry)]

    def flush(self) -> bytes:
        """The held-back bytes, when the stream ended without a marker."""
        rest, self._carry = self._carry, b""
        return rest


def omission_note(omitted: int) -> str:
    return f"\n[... {omitted:,} characters omitted ...]\n"


class HeadTailBuffer:
    """Keeps the first and last `limit // 2` characters of a stream, counting what it drops."""

    def __init__(self, limit: int) -> None:
        self._head_size = limit // 2
        self._tail_size = limit - self._head_size
        self._head: list[str] = []
        self._head_len = 0
        self._tail: list[str] = []
        self._tail_len = 0
        self.total = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def write_bytes(self, data: bytes) -> None:
        self.write(self._decoder.decode(data))

    def write(self, text: str) -> None:
        self.total += len(text)
        room = self._head_size - self._head_len
        if room > 0:
            self._head.append(text[:room])
            self._head_len += min(room, len(text))
            text = text[room:]
        if not text:
            return
        self._tail.append(text)
        self._tail_len += len(text)
        if self._tail_len > 2 * self._tail_size + _CHUNK:  # trim rarely, keep it amortised
            self._trim_tail()

    def _trim_tail(self) -> None:
        joined = "".join(self._tail)[-self._tail_size :] if self._tail_size else ""
        self._tail = [joined] if joined else []
        self._tail_len = len(joined)

    @property
    def truncated(self) -> bool:
        return self.total > self._head_size + self._tail_size

    def getvalue(self) -> str:
        self.write(self._decoder.decode(b"", final=True))
        self._trim_tail()
        head = "".join(self._head)
        if not self.truncated:
            return head + "".join(self._tail)
        omitted = self.total - self._head_len - self._tail_len
        return head + omission_note(omitted) + "".join(self._tail)


def kill_tree_script(root_pid: int, include_root: bool) -> str:
    """A bash script that SIGKILLs every descendant of `root_pid` (walking /proc PPid links).

    Runs from a second `docker exec` as the sandbox user, so it needs no capabilities; it
    repeats a few rounds because a dying pipeline can fork once more between scan and kill.
    """
    also_root = 'found+=" $root"' if include_root else ":"
    return f"""
root={root_pid}
for round in 1 2 3 4 5; do
  declare -A kids=()
  for st in /proc/[0-9]*/status; do
    pid=${{st#/proc/}}; pid=${{pid%/status}}
    while read -r key val; do
      if [ "$key" = PPid: ]; then kids[$val]+=" $pid"; break; fi
    done < "$st" 2>/dev/null
  done
  found=""; queue="$root"
  while [ -n "$queue" ]; do
    next=""
    for p in $queue; do next+="${{kids[$p]}}"; done
    found+="$next"; queue="$next"
  done
  {also_root}
  [ -z "${{found// /}}" ] && exit 0
  kill -KILL $found 2>/dev/null
  unset kids
done
"""


class Stopper:
    """A stop request the user makes from another thread (Esc, Ctrl+Q), seen by the shell at once.

    A pipe wakes the shell's `select` the moment `stop()` is called; the request stands until
    `clear()` (the next run), so a command about to start is not run either."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._closed = False
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)

    def stop(self) -> None:
        self._event.set()
        if self._closed:  # its descriptors' numbers may belong to another file by now
            return
        with suppress(OSError):  # BlockingIOError: a wake-up byte is already waiting; closed: gone
            os.write(self._write, b"x")

    def clear(self) -> None:
        self._event.clear()
        with suppress(OSError):
            while os.read(self._read, 64):
                pass

    def is_set(self) -> bool:
        return self._event.is_set()

    def fileno(self) -> int:
        return self._read

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for fd in (self._read, self._write):
            with suppress(OSError):
                os.close(fd)


STOPPED_NOTE = "[stopped by the user: the command was killed]"
NOT_STARTED_NOTE = "[not run: the user stopped the run]"


class ShellDied(Exception):
    """The shell's stream ended: bash exited (`exit`, OOM kill, a killed shell)."""


@dataclass
class ShellOutcome:
    """What one command produced, before it becomes an ExecResult."""

    output: str
    exit_code: int | None
    truncated: bool
    timed_out: bool = False
    shell_exited: bool = False
    stopped: bool = False
    """The user stopped the run: the command was killed (or never started)."""
    notes: list[str] = field(default_factory=list)


class PersistentShell:
    """One bash process inside a running container, fed commands over an attached socket."""

    def __init__(
        self, api: Any, container_id: str, user: str, output_limit: int, stopper: Stopper | None = None
    ) -> None:
        self._api = api  # docker.APIClient
        self._stopper = stopper
        self._container_id = container_id
        self._user = user
        self._limit = output_limit
        self._nonce = secrets.token_hex(8)
        self._seq = 0
        self._sock: socket.socket | None = None
        self._keepalive: Any = None
        self._frames = FrameDecoder()
        self._pending = b""  # output that followed a marker; it leads the next command's
        self.exec_id = ""
        self.pid = 0

    @property
    def alive(self) -> bool:
        return self._sock is not None

    def open(self) -> None:
        self.exec_id = self._api.exec_create(
            self._container_id,
            ["bash", "--noprofile", "--norc"],
            stdin=True,
            tty=False,
            user=self._user,
            workdir="/workspace",
        )["Id"]
        raw = self._api.exec_start(self.exec_id, socket=True)
        self._keepalive = raw  # the SocketIO wrapper; dropping it may close the socket
        self._sock = getattr(raw, "_sock", raw)
        self._frames = FrameDecoder()
        # merge stderr into stdout and learn the shell's pid for the timeout killer
        outcome = self.run("exec 2>&1; echo $$", timeout=30.0)
        self.pid = int(outcome.output.strip())

    def close(self) -> None:
        # close the SocketIO wrapper too: the socket's fd is only released with its last user
        for closable in (self._keepalive, self._sock):
            if closable is not None:
                try:
                    closable.close()
                except OSError:
                    pass
        self._sock = None
        self._keepalive = None

    def run(self, command: str, timeout: float, early: bytes = b"") -> ShellOutcome:
        """Send one command and read until its marker, the deadline, or the shell's end.

        `early` is output that arrived while the shell was idle (background jobs); it leads.
        """
        if self._sock is None:
            raise ShellDied("shell is not running")
        if self._stopper is not None and self._stopper.is_set():
            return ShellOutcome(
                early.decode("utf-8", "replace"), None, False, stopped=True, notes=[NOT_STARTED_NOTE]
            )
        self._seq += 1
        marker = f"__qcode_{self._nonce}_{self._seq}__"
        scanner = MarkerScanner(marker)
        out = HeadTailBuffer(self._limit)
        out.write_bytes(early)
        try:
            self._sock.sendall(encode_command(command, marker))
        except OSError as err:
            self.close()
            raise ShellDied(str(err)) from err
        deadline = time.monotonic() + timeout
        if self._pump(scanner, out, deadline):
            return ShellOutcome(out.getvalue(), scanner.exit_code, out.truncated)
        if self._sock is None:  # stream ended: bash itself exited
            return ShellOutcome(out.getvalue(), self._exit_code(), out.truncated, shell_exited=True)
        if self._stopper is not None and self._stopper.is_set():
            outcome = self._after_timeout(scanner, out, STOPPED_NOTE)
            outcome.timed_out, outcome.stopped = False, True
            return outcome
        return self._after_timeout(scanner, out, f"[command timed out after {timeout:g}s and was killed]")

    def _after_timeout(self, scanner: MarkerScanner, out: HeadTailBuffer, note: str) -> ShellOutcome:
        """Kill the running command (its process tree, not the shell) and collect what it printed."""
        notes = [note]
        self._kill(include_root=False)
        # the killed command's marker normally follows at once; a busy builtin loop never ends
        if not self._pump(scanner, out, time.monotonic() + _GRACE) and self._sock is not None:
            self._kill(include_root=True)
            self.close()
            notes.append("[the shell was stuck and has been restarted: cwd and env are reset]")
        out.write_bytes(scanner.flush())  # partial output held back while looking for the marker
        return ShellOutcome(out.getvalue(), None, out.truncated, timed_out=True, notes=notes)

    def _pump(self, scanner: MarkerScanner, out: HeadTailBuffer, deadline: float) -> bool:
        """Read until the marker (True), the deadline, a stop request or the end of the stream
        (False). A stop request is honoured only once, so the killed command's marker is read."""
        sock = self._sock
        assert sock is not None
        watch: list[Any] = [sock]
        if self._stopper is not None and not self._stopper.is_set():
            watch.append(self._stopper)
        while not scanner.done:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            ready, _, _ = select.select(watch, [], [], left)
            if self._stopper is not None and self._stopper in ready:
                return False
            if not ready:
                continue
            try:
                data = sock.recv(_CHUNK)
            except OSError:
                data = b""
            if not data:
                out.write_bytes(scanner.flush())
                self.close()
                return False
            for payload in self._frames.feed(data):
                if scanner.done:  # a background job's output right after the marker
                    self._pending += payload
                    continue
                out.write_bytes(scanner.feed(payload))
                if scanner.done:
                    self._pending += scanner.rest
        return True

    def drain_idle(self) -> bytes:
        """Bytes that arrived between commands (background jobs); notices a dead shell."""
        sock = self._sock
        if sock is None:
            return b""
        got, self._pending = bytearray(self._pending), b""
        while select.select([sock], [], [], 0)[0]:
            try:
                data = sock.recv(_CHUNK)
            except OSError:
                data = b""
            if not data:
                self.close()
                break
            for payload in self._frames.feed(data):
                got += payload
        return bytes(got)

    def _kill(self, include_root: bool) -> None:
        script = kill_tree_script(self.pid, include_root)
        kid = self._api.exec_create(self._container_id, ["bash", "-c", script], user=self._user)
        self._api.exec_start(kid["Id"])

    def _exit_code(self) -> int | None:
        for _ in range(50):  # the daemon records the code a moment after the stream closes
            info = self._api.exec_inspect(self.exec_id)
            if not info.get("Running"):
                code = info.get("ExitCode")
                return int(code) if code is not None else None
            time.sleep(0.01)
        return None
