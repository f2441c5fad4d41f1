"""The warm engine's protocol: one JSON object per line over a Unix socket, every line capped.

Client → engine: `{"op": "complete", "client": {...}, "key": {...}, "messages": [...], "tools":
[...], "options": {...}}`, then optionally `{"op": "abort"}`; or one of `status`, `stop`,
`attach`, `detach`. Engine → client: `{"token": [text, channel]}` pieces, then `{"turn": {...}}`
or `{"error": {"kind": ..., "message": ...}}`; `{"status": {...}}` for the others.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from qcode.agent.exceptions import EngineError

__all__ = ["LINE_MAX", "LineReader", "engine_key", "send"]

LINE_MAX = 16 * 1024 * 1024
"""Bytes of one line: a request carries the whole history (a 262k-token context is a few MB)."""

KEY_FIELDS = ("model", "max_model_len", "gpu_memory_utilization", "tensor_parallel_size", "mtp_tokens")
"""Engine-level settings: one warm engine serves only requests that agree on these."""


def engine_key(settings: Any) -> dict[str, Any]:
    """What a request needs of the engine (the model as a resolved folder when it is one)."""
    key = {name: getattr(settings, name) for name in KEY_FIELDS}
    folder = Path(str(settings.model)).expanduser()
    if folder.is_dir():
        key["model"] = str(folder.resolve())
    return key


def send(sock: socket.socket, message: dict[str, Any]) -> None:
    data = json.dumps(message, ensure_ascii=False).encode("utf-8", "surrogateescape") + b"\n"
    if len(data) > LINE_MAX:
        raise EngineError(f"a message to the warm engine exceeds {LINE_MAX} bytes")
    sock.sendall(data)


class LineReader:
    """Reads JSON lines from a socket, refusing any line over `limit` bytes (nothing grows)."""

    def __init__(self, sock: socket.socket, limit: int = LINE_MAX) -> None:
        self._sock, self._limit, self._buffer = sock, limit, bytearray()

    def read(self) -> dict[str, Any] | None:
        """The next object, or None at end of stream; ValueError for an oversized or bad line."""
        while (end := self._buffer.find(b"\n")) < 0:
            if len(self._buffer) > self._limit:
                raise ValueError(f"a line over {self._limit} bytes")
            chunk = self._sock.recv(1 << 16)
            if not chunk:
                return None
            self._buffer += chunk
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        if len(line) > self._limit:
            raise ValueError(f"a line over {self._limit} bytes")
        value = json.loads(line)
        if not isinstance(value, dict):
            raise ValueError("a line that is not a JSON object")
        return value
