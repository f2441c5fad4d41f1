"""MCP tools as registry tools: cleaned names, capped schemas and descriptions, results → observations.

A tool's name, description and schema come from a server and reach the model, the terminal and the
trajectory, so each is cleaned and capped here, once, before anything else sees it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import mcp_types
from pydantic import BaseModel, ConfigDict
from qcode.agent.contracts import Observation, printable
from qcode.agent.exceptions import ToolError
from qcode.tools.mcp.client import McpConnection, McpUnavailable
from qcode.tools.mcp.config import clean_name, strip_control
from qcode.tools.registry import Tool, ToolContext

__all__ = [
    "McpArguments",
    "McpTool",
    "cap_text",
    "is_mcp_tool",
    "mcp_tools",
    "result_text",
    "tool_name",
]

MAX_DESCRIPTION = 1024
MAX_SCHEMA_CHARS = 8192
PREFIX = "mcp__"
_PERMISSIVE: dict[str, Any] = {"type": "object", "additionalProperties": True}


class McpArguments(BaseModel):
    """Whatever the model sent; the server's JSON schema validates it in `McpTool.run`."""

    model_config = ConfigDict(extra="allow")


def tool_name(server: str, tool: str) -> str:
    """`mcp__SERVER__TOOL`, cleaned and within the 64 characters OpenAI-style tool names allow."""
    return f"{PREFIX}{clean_name(server, 20)}__{clean_name(tool, 36)}"


def is_mcp_tool(name: str) -> bool:
    return name.startswith(PREFIX)


def cap_text(text: str, limit: int) -> str:
    """Head and tail of a long text, with how much was cut in between."""
    if len(text) <= limit:
        return text
    head, tail = limit * 2 // 3, limit // 3
    return f"{text[:head]}\n[... {len(text) - head - tail} characters cut ...]\n{text[-tail:]}"


def _clean_schema(schema: Any) -> dict[str, Any]:
    """The server's input schema if it is a JSON-schema object of bounded size, else a permissive one."""
    if not isinstance(schema, dict) or schema.get("type") != "object":
        return dict(_PERMISSIVE)
    schema = {k: v for k, v in schema.items() if k not in ("title", "$schema")}
    if len(json.dumps(schema)) > MAX_SCHEMA_CHARS:
        return dict(_PERMISSIVE)
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError:
        return dict(_PERMISSIVE)
    return dict(schema)


@dataclass(frozen=True)
class McpTool(Tool):
    """A registry tool backed by an MCP server; its schema is the server's (cleaned, capped)."""

    parameters: dict[str, Any] = field(default_factory=lambda: dict(_PERMISSIVE))
    read_only: bool = False
    """The server says the tool only reads (readOnlyHint): front doors need not ask before it runs."""
    server: str = ""

    def schema(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }


def result_text(result: mcp_types.CallToolResult, limit: int) -> str:
    """Text blocks verbatim, other blocks described, structured content as JSON; capped."""
    parts: list[str] = []
    for block in result.content[:64]:
        if isinstance(block, mcp_types.TextContent):
            parts.append(block.text[: limit + 1])
        elif isinstance(block, (mcp_types.ImageContent, mcp_types.AudioContent)):
            parts.append(f"[{block.type}: {block.mime_type}, {len(block.data) * 3 // 4} bytes, not shown]")
        else:
            parts.append(f"[{block.type} content not shown]")
    if result.structured_content is not None and not parts:
        parts.append(json.dumps(result.structured_content)[: limit + 1])
    return cap_text(printable("\n".join(parts)) or "(no output)", limit)


def _runner(connection: McpConnection, remote: str, schema: dict[str, Any], limit: int) -> Callable[..., Any]:
    validator = jsonschema.Draft202012Validator(schema)

    def run(args: McpArguments, ctx: ToolContext) -> Observation:
        arguments = dict(args.model_extra or {})
        problems = [
            f"- {'.'.join(map(str, e.path)) or '(arguments)'}: {e.message}"
            for e in validator.iter_errors(arguments)
        ]
        if problems:
            listed = "\n".join(problems[:10])
            raise ToolError(f"Invalid arguments:\n{listed}\nSchema: {json.dumps(schema)}")
        try:
            result = connection.call(remote, arguments)
        except McpUnavailable as err:
            if connection.on_failure is not None:
                connection.on_failure(str(err))
            raise ToolError(str(err)) from None
        text = connection.redact(result_text(result, limit))  # the server's secrets stay with it
        data: dict[str, Any] = {"mcp_server": connection.name, "mcp_tool": clean_name(remote, 64)}
        return Observation(ok=not result.is_error, text=text, data=data)

    return run


def mcp_tools(connection: McpConnection, listed: list[mcp_types.Tool], output_limit: int) -> list[McpTool]:
    tools: list[McpTool] = []
    seen: set[str] = set()
    for remote in listed:
        name = tool_name(connection.name, remote.name)
        if name in seen:  # two remote names that clean to the same name: the first wins
            continue
        seen.add(name)
        schema = _clean_schema(remote.input_schema)
        description = printable(" ".join((remote.description or remote.title or remote.name).split()))
        description = strip_control(description)  # no escape sequences into cards or terminals
        read_only = bool(remote.annotations and remote.annotations.read_only_hint)
        tools.append(
            McpTool(
                name=name,
                description=f"[MCP server {connection.name}] {description[:MAX_DESCRIPTION]}",
                args=McpArguments,
                run=_runner(connection, remote.name, schema, output_limit),
                parameters=schema,
                read_only=read_only,
                effect="read" if read_only else "exec",
                server=connection.name,
                # never frozen around: a `sandbox = true` server runs in the session's container (a
                # frozen one would never answer), and no server reads the workspace through qcode
                in_sandbox=True,
            )
        )
    return tools
