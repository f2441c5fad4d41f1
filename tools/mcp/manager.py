"""The MCP servers of one session: start them, gather their tools, close them.

A server that fails to start is a notice, never a failed run: its tools are simply absent. A
server that dies later is restarted by its next call (see client.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from qcode.agent.loop_thread import LoopThread
from qcode.tools.mcp.adapter import McpTool, mcp_tools
from qcode.tools.mcp.client import McpConnection, McpUnavailable
from qcode.tools.mcp.config import ServerEntry

__all__ = ["McpManager"]


class McpManager:
    def __init__(
        self,
        servers: dict[str, ServerEntry],
        notify: Callable[[str, str], None],
        output_limit: int = 30_000,
        sandbox_container: str | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.servers, self.notify, self.output_limit = servers, notify, output_limit
        self.sandbox_container = sandbox_container
        """The session container's id, for `sandbox = true` servers (they run via `docker exec`)."""
        self.cwd = cwd
        """Where a trusted repository proposal's stdio server starts (its relative paths need it).
        The user's own servers start in the home folder: in the repository, `python -m x` or `npx`
        would pick up the repository's code and run it on the host."""
        self.connections: dict[str, McpConnection] = {}
        self._loop: LoopThread | None = None

    def _in_sandbox(self, argv: list[str]) -> list[str]:
        if not self.sandbox_container:
            raise McpUnavailable("this session has no sandbox container to run the server in")
        return ["docker", "exec", "-i", "-w", "/workspace", self.sandbox_container, *argv]

    def start(self) -> list[McpTool]:
        """Start every enabled server; the tools of those that answered."""
        tools: list[McpTool] = []
        for name, (spec, own) in self.servers.items():
            if not spec.enabled:
                continue
            if self._loop is None:
                self._loop = LoopThread("qcode-mcp")
            connection = McpConnection(
                name,
                spec,
                self._loop,
                user_secrets=own,
                wrap_command=self._in_sandbox if spec.sandbox else None,
                on_tools_changed=self._tools_changed,
                cwd=Path.home() if own else self.cwd,
            )
            self.connections[name] = connection
            connection.on_failure = lambda text, c=connection: self._failed(c, text)
            try:
                listed = connection.start()
            except McpUnavailable as err:
                self._failed(connection, str(err))
                continue
            found = mcp_tools(connection, listed, self.output_limit)
            self.notify("info", f"MCP server `{name}`: {len(found)} tool(s)")
            tools.extend(found)
        return tools

    def _failed(self, connection: McpConnection, text: str) -> None:
        """A notice for the user: the one-line reason and the server's last stderr (never the model's)."""
        tail = connection.redact(connection.stderr.text()) if connection.stderr else ""
        self.notify("warning", text + (f"\n{tail[-1500:]}" if tail else ""))

    def _tools_changed(self, name: str) -> None:
        # The tool list opens the prompt: changing it mid-run would throw away the prefix cache.
        self.notify("info", f"MCP server `{name}` changed its tools; the change takes effect next session")

    def close(self) -> None:
        for connection in self.connections.values():
            connection.close()
        self.connections.clear()
        if self._loop is not None:
            self._loop.close()
            self._loop = None
