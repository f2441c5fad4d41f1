"""MCP config, repository proposals and trust: pure reads, no server starts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from qcode.agent.contracts import ToolCall
from qcode.agent.exceptions import UserError
from qcode.agent.extensions import Extensions
from qcode.tools.mcp.config import MAX_CONFIG_BYTES, ServerSpec, load_repo_proposals, load_user_servers
from qcode.tools.mcp.trust import TrustStore

PROPOSAL = {"mcpServers": {"db": {"command": "db-server", "args": ["--ro"], "env": {"K": "v"}}}}


def _repo(tmp_path: Path, proposal: dict | None = None, toml: str | None = None) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir(exist_ok=True)
    if proposal is not None:
        (repo / ".mcp.json").write_text(json.dumps(proposal))
    if toml is not None:
        (repo / ".qcode.toml").write_text(toml)
    return repo


def test_user_servers_and_bad_entries(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        '[mcp.servers.wiki]\ncommand = "w"\n[mcp.servers.web]\nurl = "http://127.0.0.1:1/mcp"\n'
    )
    servers = load_user_servers(config)
    assert servers["wiki"].transport == "stdio" and servers["web"].transport == "http"
    config.write_text('[mcp.servers.both]\ncommand = "w"\nurl = "http://x/mcp"\n')
    with pytest.raises(UserError, match="set exactly one of `command`"):
        load_user_servers(config)
    config.write_text('[mcp.servers.x]\nurl = "file:///etc/passwd"\n')
    with pytest.raises(UserError, match="must start with http"):
        load_user_servers(config)


def test_proposals_from_mcp_json_and_qcode_toml(tmp_path: Path) -> None:
    repo = _repo(tmp_path, PROPOSAL, 'max_steps = 3\n[mcp.servers.lint]\ncommand = "lint-mcp"\n')
    assert set(load_repo_proposals(repo)) == {"db", "lint"}


def test_hostile_proposal_files_are_refused_clearly(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    (repo / ".mcp.json").write_text("{" + " " * MAX_CONFIG_BYTES + "}")
    with pytest.raises(UserError, match="larger than"):
        load_repo_proposals(repo)
    (repo / ".mcp.json").write_text("{not json")
    with pytest.raises(UserError, match="not valid JSON"):
        load_repo_proposals(repo)
    many = {"mcpServers": {f"s{i}": {"command": "x"} for i in range(100)}}
    (repo / ".mcp.json").write_text(json.dumps(many))
    with pytest.raises(UserError, match="at most 32"):
        load_repo_proposals(repo)


def test_trust_is_per_repository_and_per_exact_entry(tmp_path: Path) -> None:
    repo, other = _repo(tmp_path, PROPOSAL), tmp_path / "other"
    other.mkdir()
    store = TrustStore(tmp_path / "state")
    spec = load_repo_proposals(repo)["db"]
    assert store.state(repo, "db", spec) == "untrusted"
    store.trust(repo, "db", spec)
    assert store.is_trusted(repo, "db", spec) and not store.is_trusted(other, "db", spec)
    changed = spec.model_copy(update={"env": {"K": "other"}})
    assert store.state(repo, "db", changed) == "changed"
    store.path.write_text("{corrupt")
    assert store.state(repo, "db", spec) == "untrusted"


def test_the_bot_ignores_even_trusted_proposals(tmp_path: Path) -> None:
    repo, state = _repo(tmp_path, PROPOSAL), tmp_path / "state"
    TrustStore(state).trust(repo, "db", load_repo_proposals(repo)["db"])
    config = tmp_path / "none.toml"
    assert set(Extensions.load(config, repo, state).servers) == {"db"}
    assert Extensions.load(config, repo, state, repo_proposals=False).servers == {}


def test_the_users_server_shadows_a_proposal_of_the_same_name(tmp_path: Path) -> None:
    repo, state = _repo(tmp_path, PROPOSAL), tmp_path / "state"
    config = tmp_path / "c.toml"
    config.write_text('[mcp.servers.db]\ncommand = "my-db"\n')
    TrustStore(state).trust(repo, "db", load_repo_proposals(repo)["db"])
    loaded = Extensions.load(config, repo, state)
    spec, own = loaded.servers["db"]
    assert spec == ServerSpec(command="my-db") and own
    assert "yours of that name is used" in loaded.skipped[0]


def test_settings_skip_mcp_tables_but_refuse_repo_hooks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qcode.config import load_settings

    user = tmp_path / "user.toml"
    user.write_text('max_steps = 7\n[mcp.servers.a]\ncommand = "a"\n[[hooks.stop]]\ncommand = "true"\n')
    monkeypatch.setenv("QCODE_CONFIG", str(user))
    repo = _repo(tmp_path, toml='max_steps = 3\n[mcp.servers.lint]\ncommand = "lint-mcp"\n')
    assert load_settings({}, repo).settings.max_steps == 3
    (repo / ".qcode.toml").write_text('[[hooks.pre_tool]]\ncommand = "touch /tmp/x"\n')
    with pytest.raises(UserError, match="sets hooks, which only you may set"):
        load_settings({}, repo)


def test_mcp_tools_ask_unless_read_only() -> None:
    """MCP tools run on the host: they declare `exec` (always asks, whatever their arguments)
    unless their server marks them read-only."""
    from mcp import types as mcp_types
    from qcode.agent.policy import needs_approval
    from qcode.tools.mcp.adapter import mcp_tools
    from qcode.tools.registry import ToolRegistry

    class _Connection:
        name = "wiki"

    listed = [
        mcp_types.Tool(name="add", input_schema={"type": "object"}),
        mcp_types.Tool(
            name="lookup",
            input_schema={"type": "object"},
            annotations=mcp_types.ToolAnnotations(read_only_hint=True),
        ),
    ]
    registry = ToolRegistry(mcp_tools(_Connection(), listed, 1000))  # type: ignore[arg-type]
    add, lookup = (ToolCall(id="c", name=name, arguments={"command": "ls"}) for name in registry.names)
    assert needs_approval(registry.request(add), "auto-edit")
    assert not needs_approval(registry.request(lookup), "ask")
