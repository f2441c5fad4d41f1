"""A real MCP server for the tests, written with the SDK's server side (MCPServer, ex-FastMCP).

Run: `python mcp_server.py stdio` or `python mcp_server.py http PORT`. Env MCP_TEST_LOG names a
file each tool call appends to (so tests see what the server really received).
"""

from __future__ import annotations

import os
import sys

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

app = MCPServer("qcode-test")


def _log(line: str) -> None:
    if path := os.environ.get("MCP_TEST_LOG"):
        with open(path, "a") as log:
            log.write(line + "\n")


@app.tool(annotations=ToolAnnotations(readOnlyHint=True))
def lookup(key: str) -> str:
    """Look up a key in the team's wiki (read-only)."""
    _log(f"lookup {key}")
    return f"wiki says {key} = 42 (pid {os.getpid()})"


@app.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    _log(f"add {a} {b}")
    return a + b


@app.tool()
def secret_env() -> str:
    """Report which secret the server received."""
    _log(f"token {os.environ.get('MCP_TEST_TOKEN', '<unset>')}")
    return f"token={os.environ.get('MCP_TEST_TOKEN', '<unset>')}"


@app.tool()
def sleepy(seconds: float) -> str:
    """Sleep, then answer."""
    import time

    time.sleep(seconds)
    return f"slept (pid {os.getpid()})"


@app.tool()
def shout(text: str) -> str:
    """Return a very long text."""
    return text.upper() * 100_000


if os.environ.get("MCP_TEST_EXTRA") and os.path.exists(os.environ["MCP_TEST_EXTRA"]):

    @app.tool()
    def extra() -> str:
        """A tool that appeared after the session started."""
        return "extra"


if __name__ == "__main__":
    print(f"test server starting, pid {os.getpid()}", file=sys.stderr, flush=True)
    if sys.argv[1] == "stdio":
        app.run()
    else:
        app.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
