"""The warm engine's process: one `VllmEngine`, served to every session over a Unix socket.

Started by `lifecycle.start` as `python -m qcode.agent.engines.warm.server` with its settings on
stdin; it binds the socket only once the model is loaded (a socket that answers is a ready
engine) and exits after `engine_keep_alive` minutes without a request, or on `stop`.
Each connection is one request, served on its own thread: vLLM batches the concurrent ones.
A client that disconnects or sends `abort` has its request aborted (and counted).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from typing import Any

from qcode.agent.engines.errors import ContextLengthExceeded
from qcode.agent.engines.vllm_engine import EngineOptions, VllmEngine
from qcode.agent.engines.warm.lifecycle import ERROR_MARK
from qcode.agent.engines.warm.logs import capture_output
from qcode.agent.engines.warm.paths import EnginePaths, engine_paths
from qcode.agent.engines.warm.stats import EngineStats
from qcode.agent.engines.warm.wire import LineReader, engine_key, send
from qcode.agent.exceptions import QcodeError

__all__ = ["EngineServer", "main"]

MAX_CONNECTIONS = 64
"""Connections served at once; more are refused with a one-line reason."""
DRAIN_SECONDS = 30.0
"""How long a stop waits for running requests to end (each ends at its next token)."""


class _Aborted(Exception):
    """The client disconnected or asked to abort."""


class _Stopped(Exception):
    """`qcode engine stop` (or keep-alive expiry) while this request ran."""


def peer_credentials(conn: socket.socket) -> tuple[int, int, int]:
    """(pid, uid, gid) of the process at the other end (SO_PEERCRED)."""
    data = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, gid = struct.unpack("3i", data)
    return pid, uid, gid


class EngineServer:
    def __init__(self, engine: Any, key: dict[str, Any], keep_alive: float, paths: EnginePaths) -> None:
        self.engine, self.key, self.paths = engine, key, paths
        self.stats = EngineStats(keep_alive=keep_alive, model=str(key["model"]))
        self.stopping = threading.Event()
        self._listener: socket.socket | None = None

    def bind(self) -> None:
        """Listen on the socket, created 0600 (umask) so no other user can ever connect."""
        self.paths.socket.unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            listener.bind(str(self.paths.socket))
        finally:
            os.umask(old)
        listener.listen(MAX_CONNECTIONS)
        listener.settimeout(0.5)
        self._listener = listener
        self._inode = self.paths.socket.stat().st_ino

    def serve(self) -> None:
        assert self._listener is not None
        while not self.stopping.is_set():
            if self.stats.expired():  # checked every round: status probes alone keep none alive
                self.stopping.set()
                break
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            self._admit(conn)
        self._shutdown()

    def _admit(self, conn: socket.socket) -> None:
        pid, uid, _ = peer_credentials(conn)
        if uid != os.geteuid():  # the socket is 0600; this holds even if someone loosened it
            conn.close()
            return
        if not self.stats.open_connection(MAX_CONNECTIONS):
            with _suppress_os():
                send(conn, _error("busy", f"the warm engine serves {MAX_CONNECTIONS} connections at most"))
            conn.close()
            return
        threading.Thread(target=self._handle, args=(conn, pid), daemon=True).start()

    def _handle(self, conn: socket.socket, pid: int) -> None:
        try:
            conn.settimeout(None)
            reader = LineReader(conn)
            request = reader.read()
            if request is not None:
                self._dispatch(conn, reader, request, pid)
        except (OSError, ValueError):
            pass  # a client that went away or sent garbage: nothing to answer
        finally:
            self.stats.close_connection()
            conn.close()

    def _dispatch(self, conn: socket.socket, reader: LineReader, request: dict[str, Any], pid: int) -> None:
        op = request.get("op")
        client = str(request.get("client", ""))[:64]
        if op == "status":
            send(conn, {"status": self.status()})
        elif op == "stop":
            send(conn, {"status": self.status()})
            self.stopping.set()
        elif op == "attach":
            self.stats.attach(client, pid)
            send(conn, {"status": self.status()})
        elif op == "detach":
            self.stats.detach(client)
            send(conn, {"ok": True})
        elif op == "complete":
            self.stats.attach(client, pid)
            send(conn, self._complete(conn, reader, request))
        else:
            send(conn, _error("protocol", f"unknown op {str(op)[:40]!r}"))

    def status(self) -> dict[str, Any]:
        return {**self.stats.snapshot(), "pid": os.getpid(), "key": self.key}

    def _complete(self, conn: socket.socket, reader: LineReader, request: dict[str, Any]) -> dict[str, Any]:
        if request.get("key") != self.key:
            return _error("mismatch", "the request's engine settings differ from the warm engine's")
        messages, tools = request.get("messages"), request.get("tools")
        if not isinstance(messages, list) or not isinstance(tools, list):
            return _error("protocol", "messages and tools must be lists")
        try:
            options = EngineOptions.from_wire(request.get("options"))
        except QcodeError as err:
            return _error("protocol", str(err))
        aborted = threading.Event()
        threading.Thread(target=_watch, args=(reader, aborted), daemon=True).start()

        def on_token(text: str, channel: str) -> None:
            if self.stopping.is_set():
                raise _Stopped
            if aborted.is_set():
                raise _Aborted
            try:
                send(conn, {"token": [text, channel]})
            except OSError:
                raise _Aborted from None

        self.stats.begin()  # before the check: a stop drains the requests it counts
        try:
            if self.stopping.is_set():
                raise _Stopped
            turn = self.engine.complete(messages, tools, on_token=on_token, options=options)
        except _Aborted:
            self.stats.end(aborted=True)
            raise OSError("client gone") from None
        except _Stopped:
            self.stats.end(aborted=True)
            return _error("stopped", "the warm engine was stopped (`qcode engine stop`)")
        except ContextLengthExceeded as err:
            self.stats.end()
            return {"error": {"kind": "context", **vars(err)} | {"message": str(err)}}
        except QcodeError as err:
            self.stats.end(aborted=self.stopping.is_set())
            if self.stopping.is_set():  # the engine closed under it
                return _error("stopped", "the warm engine was stopped (`qcode engine stop`)")
            return _error("engine", str(err))
        except Exception as err:  # noqa: BLE001 (one bad request must not end the engine)
            traceback.print_exc()
            self.stats.end()
            return _error("engine", f"the warm engine failed on a request: {err}")
        self.stats.end(turn.usage)
        return {"turn": turn.model_dump(mode="json")}

    def _shutdown(self) -> None:
        if self._listener is not None:
            self._listener.close()
        try:
            if self.paths.socket.stat().st_ino == self._inode:  # only our own socket
                self.paths.socket.unlink()
        except FileNotFoundError:
            pass
        end = time.monotonic() + DRAIN_SECONDS
        while self.stats.running() and time.monotonic() < end:
            time.sleep(0.05)
        self.engine.close()


def _watch(reader: LineReader, aborted: threading.Event) -> None:
    """Set `aborted` when the client sends `abort`, closes the connection, or breaks the protocol."""
    try:
        while (message := reader.read()) is not None:
            if message.get("op") == "abort":
                break
    except (OSError, ValueError):
        pass
    aborted.set()


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"error": {"kind": kind, "message": message}}


class _suppress_os:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, *_: Any) -> bool:
        return kind is not None and issubclass(kind, OSError)


def main() -> None:
    """Entry point of the engine process: settings JSON on stdin; logs to the engine folder."""
    from qcode.config import Settings

    config = json.loads(sys.stdin.read(1 << 20))
    settings = Settings(**config)
    paths = engine_paths(settings.state_dir)
    capture_output(paths.log)
    print(f"qcode warm engine {os.getpid()}: loading {settings.model}", flush=True)
    try:
        engine = VllmEngine(settings)
    except QcodeError as err:  # the starter shows this line to the user
        print(f"{ERROR_MARK}{err}", flush=True)
        sys.exit(2)
    server = EngineServer(engine, engine_key(settings), float(settings.engine_keep_alive) * 60, paths)
    server.bind()
    # SIGTERM and SIGINT stop it as `qcode engine stop` does: vLLM's workers are shut down too.
    signal.signal(signal.SIGTERM, lambda *_: server.stopping.set())
    signal.signal(signal.SIGINT, lambda *_: server.stopping.set())
    print(f"qcode warm engine {os.getpid()}: ready on {paths.socket}", flush=True)
    server.serve()
    print(f"qcode warm engine {os.getpid()}: stopped", flush=True)


if __name__ == "__main__":
    main()
