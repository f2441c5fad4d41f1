"""One MCP server connection, driven synchronously: start, list tools, call, restart after a crash.

The SDK is async (anyio); the loop is synchronous. Each connection lives in one task on a shared
event-loop thread (anyio's scopes must be entered and left by the same task) and the loop's thread
waits on futures with hard timeouts. Failures never raise past `McpUnavailable`, whose message is
one line for the model; the server's stderr (kept as a bounded tail) goes to the user only.
"""

from __future__ import annotations

import asyncio
import collections
import os
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TextIO

import mcp_types
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from qcode.agent.loop_thread import LoopThread
from qcode.tools.mcp.config import ServerSpec, expand_secrets, strip_control

__all__ = ["McpConnection", "McpUnavailable", "StderrTail"]

MAX_TOOLS = 128
"""Tools taken from one server (the rest are dropped with a notice)."""
MAX_PAGES = 16
STDERR_TAIL = 4000


class McpUnavailable(Exception):
    """The server could not start, timed out or crashed; `str()` is one line for the model."""


class StderrTail:
    """A pipe for a server's stderr, drained by a thread that keeps only the last bytes (bounded)."""

    def __init__(self, limit: int = STDERR_TAIL) -> None:
        read_fd, write_fd = os.pipe()
        self.writer: TextIO = os.fdopen(write_fd, "w")
        self._chunks: collections.deque[bytes] = collections.deque()
        self._size, self._limit = 0, limit
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._drain, args=(read_fd,), daemon=True, name="mcp-stderr")
        self._thread.start()

    def _drain(self, fd: int) -> None:
        with os.fdopen(fd, "rb", buffering=0) as pipe:
            while chunk := pipe.read(4096):
                with self._lock:
                    self._chunks.append(chunk)
                    self._size += len(chunk)
                    while self._size - len(self._chunks[0]) >= self._limit:
                        self._size -= len(self._chunks.popleft())

    def text(self) -> str:
        with self._lock:
            data = b"".join(self._chunks)[-self._limit :]
        text = data.decode("utf-8", "replace")
        return strip_control(text).strip()  # no escape sequences into the terminal or the trajectory

    def close(self) -> None:
        """Stop writing; wait briefly for what the (dead) server wrote last to be read."""
        self.writer.close()
        self._thread.join(timeout=1)


@asynccontextmanager
async def _http_transport(url: str, headers: dict[str, str]) -> AsyncIterator[Any]:
    async with create_mcp_http_client(headers=headers) as http:
        async with streamable_http_client(url, http_client=http) as streams:
            yield streams


class McpConnection:
    """A server by name and spec; `start()` then `call()`; a dead connection restarts on the next call."""

    def __init__(
        self,
        name: str,
        spec: ServerSpec,
        loop: LoopThread,
        *,
        user_secrets: bool,
        wrap_command: Callable[[list[str]], list[str]] | None = None,
        on_tools_changed: Callable[[str], None] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name, self.spec, self._loop, self._cwd = name, spec, loop, cwd
        self._user_secrets = user_secrets
        """Expand `${VAR}` from the user's environment (the user's own servers only)."""
        self._wrap = wrap_command
        """Turns [command, *args] into the command that runs it elsewhere (the sandbox)."""
        self._on_tools_changed = on_tools_changed
        self.on_failure: Callable[[str], None] | None = None
        """Told (for a notice to the user) when a call fails; the model gets the observation."""
        self._client: Client | None = None
        self._stop: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self.stderr: StderrTail | None = None
        self.starts = 0
        self._secrets: list[str] = []
        """Values expanded from ${VAR}: redacted from every message this connection produces."""
        self._tool_names: set[str] | None = None
        """The tool names of the first start: a restart that lists others is a notice."""

    @property
    def alive(self) -> bool:
        return self._client is not None and self._task is not None and not self._task.done()

    def _target(self) -> Any:
        """The SDK transport (an async context manager); nothing starts until the client enters it."""
        spec = self.spec
        if spec.url is not None:
            headers = self._expand(spec.headers)
            return _http_transport(spec.url, headers)
        assert spec.command is not None
        argv = [spec.command, *spec.args]
        if self._wrap is not None:  # in the sandbox: no user environment at all
            argv = self._wrap(argv)
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        else:
            env = self._expand(spec.env)
        cwd = None if self._wrap is not None else self._cwd  # relative paths as in `.mcp.json`
        params = StdioServerParameters(command=argv[0], args=argv[1:], env=env, cwd=cwd)
        self.stderr = StderrTail()
        return stdio_client(params, errlog=self.stderr.writer)

    def _expand(self, values: dict[str, str]) -> dict[str, str]:
        if not self._user_secrets:
            return dict(values)  # a repository's proposal: literal values, never the user's secrets
        expanded = expand_secrets(values)
        self._secrets = [v for k, v in expanded.items() if v != values[k] and len(v) >= 4]
        return expanded

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def start(self) -> list[mcp_types.Tool]:
        """Start (or restart) the server and list its tools; raises McpUnavailable."""
        self.close()
        self.starts += 1
        try:
            target = self._target()
        except Exception as err:  # an unset ${VAR}: the user's fix, said in one line
            raise McpUnavailable(f"MCP server `{self.name}` could not start: {err}") from None
        future = self._loop.submit(self._open(target))
        try:
            tools = future.result(timeout=self.spec.startup_timeout + 5)
        except Exception as err:
            self.close()
            reason = self.redact(_one_line(err))
            raise McpUnavailable(f"MCP server `{self.name}` failed to start: {reason}") from None
        names = {tool.name for tool in tools}
        if self._tool_names is None:
            self._tool_names = names
        elif names != self._tool_names and self._on_tools_changed is not None:
            self._on_tools_changed(self.name)
        return tools

    async def _open(self, target: Any) -> list[mcp_types.Tool]:
        ready: asyncio.Future[list[mcp_types.Tool]] = asyncio.get_running_loop().create_future()
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._hold(target, ready))
        try:
            return await asyncio.wait_for(asyncio.shield(ready), self.spec.startup_timeout)
        except TimeoutError:
            self._task.cancel()
            raise TimeoutError(f"no answer within {self.spec.startup_timeout:g}s") from None

    async def _hold(self, target: Any, ready: asyncio.Future[list[mcp_types.Tool]]) -> None:
        """The connection's own task: opens the client, lists tools, waits for close."""
        assert self._stop is not None
        client: Client | None = None
        try:
            client = Client(
                target, cache=None, read_timeout_seconds=self.spec.timeout, message_handler=self._on_message
            )
            async with client:
                tools = await _list_tools(client)
                self._client = client
                ready.set_result(tools)
                await self._stop.wait()
        except BaseException as err:
            if not ready.done():
                ready.set_exception(err if isinstance(err, Exception) else RuntimeError("cancelled"))
        finally:
            if self._client is client:  # a late end of an old connection must not clear a new one
                self._client = None

    async def _on_message(self, message: Any) -> None:
        if isinstance(message, mcp_types.ToolListChangedNotification) and self._on_tools_changed:
            self._on_tools_changed(self.name)

    def call(self, tool: str, arguments: dict[str, Any]) -> mcp_types.CallToolResult:
        """Call a tool; a dead server is restarted first. Raises McpUnavailable."""
        if not self.alive:
            self.start()
        client = self._client
        assert client is not None
        future = self._loop.submit(client.call_tool(tool, arguments, read_timeout_seconds=self.spec.timeout))
        try:
            return future.result(timeout=self.spec.timeout + 5)
        except Exception as err:
            future.cancel()
            self.close()  # a timed-out or broken server starts afresh on the next call
            raise McpUnavailable(
                f"MCP server `{self.name}` failed during `{tool}`: {self.redact(_one_line(err))}. "
                "It will be restarted on the next call."
            ) from None

    def close(self) -> None:
        task, stop = self._task, self._stop
        self._task = self._stop = None
        self._client = None
        if task is not None and stop is not None and not task.done():
            closing = self._loop.submit(_finish(task, stop))
            try:
                closing.result(timeout=15)
            except Exception:  # the SDK kills the process tree itself; a hung close is not fatal
                closing.cancel()
        if self.stderr is not None:
            self.stderr.close()


async def _finish(task: asyncio.Task[None], stop: asyncio.Event) -> None:
    stop.set()
    try:
        await asyncio.wait_for(task, 10)
    except (TimeoutError, asyncio.CancelledError):
        pass


async def _list_tools(client: Client) -> list[mcp_types.Tool]:
    tools: list[mcp_types.Tool] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):  # a server that paginates forever cannot hang the start
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if cursor is None or len(tools) >= MAX_TOOLS:
            break
    return tools[:MAX_TOOLS]


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text[:300]
