"""Which MCP servers exist: the user's own (`[mcp.servers.NAME]` in the user config) and the ones a
repository proposes (`.mcp.json` in Claude Code's shape, or `[mcp.servers.NAME]` in `.qcode.toml`).

The user's servers are the user's tools and start as declared. A repository is hostile input: its
proposals start only after the user trusted that exact entry (its hash) for that repository, see
`trust.py`. Secrets (`${VAR}` in env or headers) are expanded from the user's environment only for
the user's own servers; a proposal's values stay literal.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import string
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from qcode.agent.exceptions import UserError
from qcode.tools.paths import read_regular

__all__ = [
    "MAX_CONFIG_BYTES",
    "ServerEntry",
    "ServerSpec",
    "clean_name",
    "entry_hash",
    "load_user_servers",
    "load_repo_proposals",
    "read_user_tables",
    "strip_control",
]

MAX_CONFIG_BYTES = 256 * 1024
"""A config or `.mcp.json` larger than this is refused (a repository file is hostile input)."""
MAX_SERVERS = 32
_NAME_OK = re.compile(r"[^A-Za-z0-9_-]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def strip_control(text: str) -> str:
    """A server's text without control characters (escape sequences), newlines and tabs kept."""
    return _CONTROL.sub("?", text)


def clean_name(name: str, limit: int = 24) -> str:
    """A name safe for tool names, terminals and trajectories: [A-Za-z0-9_-], bounded, never empty."""
    cleaned = _NAME_OK.sub("_", name).strip("_")[:limit]
    return cleaned or "x"


class ServerSpec(BaseModel):
    """One MCP server: stdio (`command`, `args`, `env`) or streamable HTTP (`url`, `headers`)."""

    model_config = ConfigDict(extra="forbid")

    command: str | None = None
    """Executable of a stdio server."""
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    """Extra environment of a stdio server; `${VAR}` takes VAR from your environment (your servers only)."""
    url: str | None = None
    """Endpoint of a streamable-HTTP server, e.g. http://127.0.0.1:8000/mcp."""
    headers: dict[str, str] = Field(default_factory=dict)
    """HTTP headers (e.g. Authorization: Bearer ${TOKEN}); never shown to the model."""
    sandbox: bool = False
    """Run this stdio server inside the session's sandbox container (no network, no secrets)."""
    startup_timeout: float = Field(30.0, gt=0, le=600)
    timeout: float = Field(60.0, gt=0, le=3600)
    """Seconds one tool call may take."""
    enabled: bool = True
    type: Literal["stdio", "http", "streamable-http"] | None = None
    """Accepted for `.mcp.json` compatibility; the transport follows from command/url."""

    @model_validator(mode="after")
    def _one_transport(self) -> ServerSpec:
        if (self.command is None) == (self.url is None):
            raise ValueError("set exactly one of `command` (stdio) or `url` (streamable HTTP)")
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise ValueError("`url` must start with http:// or https://")
        if self.sandbox and self.command is None:
            raise ValueError("`sandbox = true` is only for stdio servers (`command`)")
        return self

    @property
    def transport(self) -> str:
        return "stdio" if self.command is not None else "http"


ServerEntry = tuple[ServerSpec, bool]
"""A spec and whether it is the user's own (True: its ${VAR} secrets are expanded)."""


def entry_hash(spec: ServerSpec) -> str:
    """What the user trusts: every field of the entry, so any change needs trust again."""
    canonical = json.dumps(spec.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def expand_secrets(values: dict[str, str]) -> dict[str, str]:
    """`${VAR}` from the user's environment; an unset VAR is a clear error, not an empty secret."""
    expanded = {}
    for key, value in values.items():
        try:
            expanded[key] = string.Template(value).substitute(os.environ)
        except (KeyError, ValueError) as err:
            raise UserError(f"MCP setting {key!r} names {err} which is not set in your environment") from None
    return expanded


def _read_bounded(path: Path) -> str | None:
    """A regular file's text, opened without following a link (a repository's `.mcp.json` may be one
    to a host file) and read at most to the cap; None when there is no such file."""
    data = read_regular(path, MAX_CONFIG_BYTES)
    if data is None:
        return None
    if len(data) > MAX_CONFIG_BYTES:
        raise UserError(f"{path} is larger than {MAX_CONFIG_BYTES} bytes; shorten it")
    return data.decode("utf-8", errors="replace")


def read_user_tables(path: Path) -> dict[str, Any]:
    """The user config file as TOML (empty when absent)."""
    text = _read_bounded(path)
    if text is None:
        return {}
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise UserError(f"{path} is not valid TOML ({err}); fix or remove it") from None


def _specs(raw: Any, source: str) -> dict[str, ServerSpec]:
    if not isinstance(raw, dict):
        raise UserError(f"{source}: the MCP servers must be a table of NAME = {{...}}")
    if len(raw) > MAX_SERVERS:
        raise UserError(f"{source} declares {len(raw)} MCP servers; at most {MAX_SERVERS} are allowed")
    specs: dict[str, ServerSpec] = {}
    for name, entry in raw.items():
        try:
            spec = ServerSpec.model_validate(entry)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            label = clean_name(str(name))
            raise UserError(f"{source}: MCP server {label!r}: {where} {first['msg']}") from None
        specs[clean_name(str(name))] = spec
    return specs


def load_user_servers(path: Path) -> dict[str, ServerSpec]:
    """`[mcp.servers.NAME]` of the user's config file."""
    servers = read_user_tables(path).get("mcp", {}).get("servers", {})
    return _specs(servers, str(path))


def load_repo_proposals(repo: Path) -> dict[str, ServerSpec]:
    """Servers a repository proposes; listing them runs nothing."""
    proposals: dict[str, ServerSpec] = {}
    text = _read_bounded(repo / ".mcp.json")
    if text is not None:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise UserError(f"{repo / '.mcp.json'} is not valid JSON ({err}); fix or remove it") from None
        raw = data.get("mcpServers", {}) if isinstance(data, dict) else None
        proposals.update(_specs(raw, ".mcp.json"))
    text = _read_bounded(repo / ".qcode.toml")
    if text is not None:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise UserError(f"{repo / '.qcode.toml'} is not valid TOML ({err}); fix or remove it") from None
        proposals.update(_specs(data.get("mcp", {}).get("servers", {}), ".qcode.toml"))
    return proposals
