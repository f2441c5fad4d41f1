"""A minimal MCP stdio server on the standard library only, for the sandbox image (which has no
SDK): enough of the handshake-era protocol for the SDK's client to list and call one tool.

Its tool `where` reports where it runs: cwd, whether the network answers, and which of the
environment's names look like secrets, so a test can check what a sandboxed server may see.
"""

import json
import os
import socket
import sys

TOOL = {
    "name": "where",
    "description": "Where does this server run?",
    "inputSchema": {"type": "object", "properties": {}},
    "annotations": {"readOnlyHint": True},
}


def where() -> str:
    try:
        socket.create_connection(("1.1.1.1", 53), timeout=2).close()
        network = "yes"
    except OSError:
        network = "no"
    env = sorted(os.environ)
    return json.dumps({"cwd": os.getcwd(), "network": network, "env": env})


def answer(request: dict) -> dict | None:
    method, ident = request.get("method"), request.get("id")
    if ident is None:
        return None  # a notification
    if method == "initialize":
        result = {
            "protocolVersion": request["params"]["protocolVersion"],
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "stdlib", "version": "1"},
        }
    elif method == "tools/list":
        result = {"tools": [TOOL]}
    elif method == "tools/call":
        result = {"content": [{"type": "text", "text": where()}], "isError": False}
    elif method == "ping":
        result = {}
    else:
        return {"jsonrpc": "2.0", "id": ident, "error": {"code": -32601, "message": f"no method {method}"}}
    return {"jsonrpc": "2.0", "id": ident, "result": result}


for line in sys.stdin:
    reply = answer(json.loads(line))
    if reply is not None:
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
