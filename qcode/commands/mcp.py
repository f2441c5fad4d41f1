"""`qcode mcp list | add | remove | test | trust`: the user's MCP servers and a repository's proposals.

`add` and `remove` edit the user's config file with tomlkit (comments and layout survive); trust
lives in qcode's own state file, never in the user's TOML.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import tomlkit
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from qcode.agent.exceptions import UserError
from qcode.agent.untrusted import for_markup as escape  # also ESC/OSC, control and bidi characters
from qcode.config import load_settings, user_config_path
from qcode.tools.mcp.config import ServerSpec, clean_name, load_repo_proposals
from qcode.tools.mcp.listing import describe, server_rows
from qcode.tools.mcp.trust import TrustStore

__all__ = ["command"]

out = Console(highlight=False, soft_wrap=True)


def _state_dir(repo: Path) -> Path:
    return load_settings({}, repo if repo.is_dir() else None).settings.state_dir


def _rows(repo: Path) -> list[dict[str, str]]:
    return server_rows(user_config_path(), repo, _state_dir(repo))


@click.group("mcp")
def command() -> None:
    """MCP servers: yours (the user config) and those a repository proposes (run only once trusted)."""


_repo_option = click.option("--repo", type=click.Path(path_type=Path), default=Path("."), show_default=True)


@command.command("list")
@_repo_option
@click.option("--json", "as_json", is_flag=True)
def list_servers(repo: Path, as_json: bool) -> None:
    """Your servers and the repository's proposals, with their trust."""
    rows = _rows(repo)
    if as_json:
        click.echo(json.dumps(rows))
        return
    table = Table("name", "source", "status", "runs", title="MCP servers")
    for row in rows:
        table.add_row(*(escape(row[key]) for key in ("name", "source", "status", "runs")))
    out.print(table)
    if any(row["status"] != "trusted" for row in rows if row["source"] == "repo"):
        out.print("Repository proposals run only after `qcode mcp trust NAME` (review what they run first).")


def _pairs(values: tuple[str, ...], what: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise UserError(f"{what} {value!r} must look like KEY=VALUE")
        pairs[key] = val
    return pairs


@command.command("add", context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.argument("argv", nargs=-1, type=click.UNPROCESSED)
@click.option("--url", help="A streamable-HTTP server, e.g. http://127.0.0.1:8000/mcp.")
@click.option("--header", multiple=True, help="KEY=VALUE; use ${VAR} to take a secret from your environment.")
@click.option("--env", multiple=True, help="KEY=VALUE for a stdio server; ${VAR} works here too.")
@click.option("--sandbox", is_flag=True, help="Run the stdio server inside the session's sandbox.")
def add(
    name: str,
    argv: tuple[str, ...],
    url: str | None,
    header: tuple[str, ...],
    env: tuple[str, ...],
    sandbox: bool,
) -> None:
    """Add a server to your config: `qcode mcp add NAME -- COMMAND ARGS...` or `--url URL`."""
    if clean_name(name) != name:
        raise UserError(f"server names use letters, digits, - and _ only; try {clean_name(name)!r}")
    entry: dict[str, object] = (
        {"url": url} if url else {"command": argv[0] if argv else None, "args": list(argv[1:])}
    )
    if url and argv:
        raise UserError("give either --url or a command after --, not both")
    if header:
        entry["headers"] = _pairs(header, "--header")
    if env:
        entry["env"] = _pairs(env, "--env")
    if sandbox:
        entry["sandbox"] = True
    try:
        ServerSpec.model_validate(entry)
    except ValidationError as err:
        first = err.errors()[0]
        raise UserError(f"bad MCP server: {first['msg'].removeprefix('Value error, ')}") from None
    path = user_config_path()
    document = tomlkit.parse(path.read_text(encoding="utf-8")) if path.is_file() else tomlkit.document()
    servers = document.setdefault("mcp", tomlkit.table(True)).setdefault("servers", tomlkit.table(True))
    if name in servers:
        raise UserError(f"MCP server {name!r} exists already in {path}; `qcode mcp remove {name}` first")
    table = tomlkit.table()
    table.update(entry)
    servers[name] = table
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomlkit.dumps(document), encoding="utf-8")
    out.print(f"added MCP server {escape(name)} to {path}")


@command.command("remove")
@click.argument("name")
def remove(name: str) -> None:
    """Remove one of your servers from your config."""
    path = user_config_path()
    document = tomlkit.parse(path.read_text(encoding="utf-8")) if path.is_file() else tomlkit.document()
    servers = document.get("mcp", {}).get("servers", {})
    if name not in servers:
        raise UserError(f"no MCP server {name!r} in {path}; see `qcode mcp list`")
    del servers[name]
    path.write_text(tomlkit.dumps(document), encoding="utf-8")
    out.print(f"removed MCP server {escape(name)} from {path}")


@command.command("trust")
@click.argument("name")
@_repo_option
@click.option("--revoke", is_flag=True, help="Withdraw the trust.")
def trust(name: str, repo: Path, revoke: bool) -> None:
    """Trust the repository's proposed server NAME, exactly as it is now (any edit withdraws it)."""
    if not repo.is_dir():
        raise UserError(f"{repo} is not a folder; pass --repo")
    store = TrustStore(_state_dir(repo))
    if revoke:
        removed = store.revoke(repo, name)
        out.print(f"{'revoked' if removed else 'was not trusted:'} {escape(name)}")
        return
    proposals = load_repo_proposals(repo)
    if name not in proposals:
        raise UserError(f"the repository proposes no MCP server {name!r}; see `qcode mcp list`")
    store.trust(repo, name, proposals[name])
    runs = escape(describe(proposals[name]))
    out.print(f"trusted {escape(name)} for {repo.resolve()}: it runs `{runs}` on this host")


@command.command("test")
@click.argument("name")
@_repo_option
def test(name: str, repo: Path) -> None:
    """Start server NAME, list its tools, call none."""
    from qcode.agent.extensions import Extensions
    from qcode.tools.mcp.manager import McpManager

    extensions = Extensions.load(user_config_path(), repo, _state_dir(repo)) if repo.is_dir() else None
    servers = extensions.servers if extensions else {}
    if name not in servers:
        hint = (
            "trust it first (`qcode mcp trust`)"
            if any(r["name"] == name for r in _rows(repo))
            else "see `qcode mcp list`"
        )
        raise UserError(f"no runnable MCP server {name!r}: {hint}")
    spec, own = servers[name]
    if spec.sandbox:
        raise UserError(f"{name!r} runs in a session's sandbox; it starts with `qcode fix`, not here")
    notes: list[tuple[str, str]] = []
    manager = McpManager(
        {name: (spec, own)}, lambda level, text: notes.append((level, text)), cwd=repo.resolve()
    )
    try:
        tools = manager.start()
    finally:
        manager.close()
    for level, text in notes:
        out.print(f"[{'red' if level == 'warning' else 'dim'}]{escape(text)}[/]")
    for tool in tools:
        flag = "read-only" if tool.read_only else "asks"
        out.print(f"  {escape(tool.name)}  [dim]({flag})[/] {escape(tool.description[:100])}")
    sys.exit(0 if tools or not any(level == "warning" for level, _ in notes) else 1)
