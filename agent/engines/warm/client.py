"""`WarmEngine`: an `Engine` whose turns come from the warm engine process over its socket.

It sends the conversation, the tools and this session's options (tool choice, allowed tools,
argument caps, thinking, sampling, seed); tokens stream back as `(text, channel)` pieces, then
the turn. A caller that stops listening (Esc, a time limit) aborts only its own request. An engine
that died (killed, crashed, its keep-alive ran out) is started again and the turn retried once,
with a notice; one stopped with `qcode engine stop` ends the run instead.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import replace
from typing import Any

from qcode.agent.contracts import Message, TokenCallback, Turn
from qcode.agent.engines.errors import ContextLengthExceeded
from qcode.agent.engines.vllm_engine import EngineOptions
from qcode.agent.engines.vllm_grammar import ToolChoice
from qcode.agent.engines.warm.lifecycle import connect, ensure_engine, stopped_since
from qcode.agent.engines.warm.paths import engine_paths
from qcode.agent.engines.warm.wire import LineReader, engine_key, send
from qcode.agent.exceptions import EngineError, UserError

__all__ = ["STOPPED", "WarmEngine"]

SILENCE_LIMIT = 1800.0
"""Seconds a request may go without a byte from the engine (a long prefill on a busy GPU) before
the run ends with an error rather than waiting forever."""
STOPPED = "the warm engine was stopped (`qcode engine stop`); the run ends here, its work is kept"


class _EngineGone(Exception):
    """No engine answered, or it hung up mid-turn."""


class WarmEngine:
    """`Engine` over the warm engine process; `close()` detaches (the engine stays warm)."""

    def __init__(self, settings: Any, options: EngineOptions | None = None) -> None:
        self.settings = settings
        self.options = options or EngineOptions.from_settings(settings)
        self.paths = engine_paths(settings.state_dir)
        self.key = engine_key(settings)
        self.client_id = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.on_notice: Callable[[str], None] | None = None
        """Where restart notices go (the session's event bus); set by whoever builds the session."""
        self._since = time.time()
        status, started = ensure_engine(settings)
        self.attached = not started
        """True when an engine was already warm (the TUI says "attaching" rather than "loading")."""
        self.pid = int(status["pid"])
        self.name = f"vllm:{settings.model}"
        self.notices = [_greeting(status, started)]
        with suppress(OSError, _EngineGone):  # only counts sessions; the first turn restarts a lost engine
            self._ask({"op": "attach", "client": self.client_id})

    def complete(
        self,
        messages: Sequence[Message],
        tools: Sequence[dict[str, Any]],
        *,
        on_token: TokenCallback | None = None,
        tool_choice: ToolChoice | None = None,
    ) -> Turn:
        options = self.options if tool_choice is None else replace(self.options, tool_choice=tool_choice)
        request = {
            "op": "complete",
            "client": self.client_id,
            "key": self.key,
            "messages": list(messages),
            "tools": list(tools),
            "options": options.to_wire(),
        }
        try:
            return self._request(request, on_token)
        except _EngineGone as gone:
            self._restart(str(gone))
        try:
            return self._request(request, on_token)
        except _EngineGone as gone:
            raise EngineError(
                f"the warm engine failed again ({gone}); `qcode engine logs` says why, --no-daemon "
                "runs the model in-process"
            ) from None

    def close(self) -> None:
        """Detach; the engine stays warm for the next session until its keep-alive runs out."""
        with suppress(OSError, _EngineGone):
            self._ask({"op": "detach", "client": self.client_id})

    # ------------------------------------------------------------------ internals

    def _ask(self, message: dict[str, Any]) -> dict[str, Any] | None:
        sock = connect(self.paths)
        if sock is None:
            raise _EngineGone("it is not running")
        with sock:
            send(sock, message)
            return LineReader(sock, 1 << 20).read()

    def _restart(self, why: str) -> None:
        if stopped_since(self.settings, self._since):
            # The stop ends the run it caught; a later one (the TUI's next message) may start the
            # engine again, so the stop counts once.
            self._since = time.time()
            raise EngineError(STOPPED)
        status, _ = ensure_engine(self.settings)
        self.pid = int(status["pid"])
        notice = f"the warm engine was lost ({why}); restarted it (pid {self.pid}) and retrying the turn"
        if self.on_notice is not None:
            self.on_notice(notice)
        with suppress(OSError, _EngineGone):
            self._ask({"op": "attach", "client": self.client_id})

    def _request(self, request: dict[str, Any], on_token: TokenCallback | None) -> Turn:
        sock = connect(self.paths, timeout=SILENCE_LIMIT)
        if sock is None:
            raise _EngineGone("it was not running")
        with sock:
            try:
                send(sock, request)
            except OSError as err:
                raise _EngineGone(f"it hung up: {err}") from None
            reader = LineReader(sock)
            while True:
                message = _read(reader)
                if "token" in message:
                    _deliver(sock, message["token"], on_token)
                elif "turn" in message:
                    return Turn.model_validate(message["turn"])
                else:
                    raise _failure(message.get("error") or {})


def _read(reader: LineReader) -> dict[str, Any]:
    try:
        message = reader.read()
    except TimeoutError:
        raise EngineError(f"the warm engine sent nothing for {SILENCE_LIMIT:.0f} s") from None
    except (OSError, ValueError) as err:
        raise _EngineGone(f"the connection broke: {err}") from None
    if message is None:
        raise _EngineGone("it hung up mid-turn")
    return message


def _deliver(sock: socket.socket, token: Any, on_token: TokenCallback | None) -> None:
    if on_token is None:
        return
    text, channel = token
    try:
        on_token(str(text), channel)
    except BaseException:
        with suppress(OSError):  # the engine aborts this request only; closing says it too
            send(sock, {"op": "abort"})
        raise


def _failure(error: dict[str, Any]) -> Exception:
    kind, message = error.get("kind"), str(error.get("message", "unknown error"))[:2000]
    if kind == "context":
        return ContextLengthExceeded(
            int(error.get("prompt_tokens", 0)),
            int(error.get("max_model_len", 0)),
            int(error.get("reserve", 0)),
        )
    if kind == "stopped":
        return EngineError(STOPPED)
    if kind == "mismatch":
        return UserError(f"{message}: stop it with `qcode engine stop`, or pass --no-daemon")
    return EngineError(message)


def _greeting(status: dict[str, Any], started: bool) -> str:
    minutes = float(status.get("keep_alive_s", 0)) / 60
    if started:
        return (
            f"started the warm engine (pid {status['pid']}); it stays up {minutes:g} min after the last "
            "request (`qcode engine stop` ends it)"
        )
    return f"attached to the warm engine (pid {status['pid']}, up {status.get('uptime_s', 0):.0f} s)"
