"""What `qcode engine status` reports, counted by the engine process (thread-safe)."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from qcode.agent.contracts import Usage

__all__ = ["EngineStats"]

MAX_CLIENTS = 1024
"""Sessions remembered as attached; the oldest are forgotten past it."""


@dataclass
class EngineStats:
    keep_alive: float
    """Seconds the engine stays up after its last request."""
    model: str
    started: float = field(default_factory=time.monotonic)
    last_request: float = field(default_factory=time.monotonic)
    requests: int = 0
    aborted: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    _running: int = 0
    _connections: int = 0
    _clients: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def open_connection(self, limit: int) -> bool:
        with self._lock:
            if self._connections >= limit:
                return False
            self._connections += 1
            return True

    def close_connection(self) -> None:
        with self._lock:
            self._connections -= 1

    def attach(self, client: str, pid: int) -> None:
        if not client:
            return
        with self._lock:
            self._clients[client] = pid
            while len(self._clients) > MAX_CLIENTS:
                self._clients.pop(next(iter(self._clients)))

    def detach(self, client: str) -> None:
        with self._lock:
            self._clients.pop(client, None)

    def begin(self) -> None:
        with self._lock:
            self._running += 1
            self.last_request = time.monotonic()

    def end(self, usage: Usage | None = None, *, aborted: bool = False) -> None:
        with self._lock:
            self._running -= 1
            self.last_request = time.monotonic()
            self.requests += 1
            self.aborted += int(aborted)
            if usage is not None:
                self.prompt_tokens += usage.prompt_tokens
                self.completion_tokens += usage.completion_tokens
                self.cached_tokens += usage.cached_tokens

    def running(self) -> int:
        return self._running

    def expired(self) -> bool:
        with self._lock:
            return self._running == 0 and time.monotonic() - self.last_request > self.keep_alive

    def sessions(self) -> int:
        """Sessions attached now: clients that said hello and whose process still lives."""
        with self._lock:
            for client, pid in list(self._clients.items()):
                if not _alive(pid):
                    del self._clients[client]
            return len(self._clients)

    def snapshot(self) -> dict[str, Any]:
        now = time.monotonic()
        sessions = self.sessions()
        with self._lock:
            idle = 0.0 if self._running else now - self.last_request
            return {
                "model": self.model,
                "memory_bytes": _memory_bytes(),
                "uptime_s": round(now - self.started, 1),
                "idle_left_s": round(max(0.0, self.keep_alive - idle), 1),
                "keep_alive_s": self.keep_alive,
                "sessions": sessions,
                "running": self._running,
                "requests": self.requests,
                "aborted": self.aborted,
                "tokens_in": self.prompt_tokens,
                "tokens_out": self.completion_tokens,
                "prefix_cache_hit_rate": round(self.cached_tokens / self.prompt_tokens, 4)
                if self.prompt_tokens
                else None,
            }


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _memory_bytes() -> int | None:
    """Resident memory of the engine process and its workers (vLLM's engine core is a child)."""
    try:
        import psutil
    except ImportError:
        return None
    me = psutil.Process()
    total = 0
    for process in [me, *me.children(recursive=True)]:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            continue
    return total
