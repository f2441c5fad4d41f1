"""What the user's config adds to a session: MCP servers' tools, hooks, and a narrowing of tools.

Built by the front door (`Extensions.load`) and handed to the Session, which calls `open` once its
sandbox exists, `new_run` at each run and `close` with itself. Sources:

- the user's config file (`QCODE_CONFIG` or ~/.config/qcode/config.toml): `[mcp.servers.NAME]`
  and `[hooks]`; these are the user's own and run on the host (or, `sandbox = true`, in the
  session's container);
- the repository: only *proposed* MCP servers, which start once the user trusted that exact entry
  (`qcode mcp trust`); never hooks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from qcode.agent.contracts import Sandbox
from qcode.agent.events import EventBus, Notice
from qcode.agent.exceptions import UserError
from qcode.agent.hooks import HookedRegistry, Hooks, HooksConfig, load_hooks
from qcode.tools.builtin import FINISH, UPDATE_PLAN
from qcode.tools.mcp.config import ServerEntry, load_repo_proposals, load_user_servers, read_user_tables
from qcode.tools.mcp.trust import TrustStore
from qcode.tools.registry import ToolRegistry

__all__ = ["Extensions"]

ALWAYS_ALLOWED = frozenset({FINISH, UPDATE_PLAN})
"""A command's allowed-tools list narrows everything else; a run can always plan and finish."""


class Extensions:
    def __init__(
        self,
        servers: dict[str, ServerEntry] | None = None,
        hooks: HooksConfig | None = None,
        allowed_tools: Iterable[str] | None = None,
        output_limit: int = 30_000,
        skipped: list[str] | None = None,
    ) -> None:
        self.servers = servers or {}
        self.hooks_config = hooks or HooksConfig()
        self.allowed_tools = None if allowed_tools is None else frozenset(allowed_tools) | ALWAYS_ALLOWED
        self.output_limit = output_limit
        self.skipped = skipped or []
        """Notices about proposals that were not started (untrusted, or shadowed by the user's)."""
        self.hooks: Hooks | None = None
        self.read_only_tools: frozenset[str] = frozenset()
        """MCP tools whose server marks them read-only: approval gates need not ask before them
        (their tools declare effect "read"); every other MCP tool asks (agent/policy.py)."""
        self.start_context = ""
        """The session_start hooks' output, for the model's first message."""
        self._mcp: Any = None
        """The McpManager, imported only when servers exist (the SDK is a heavy import)."""

    @classmethod
    def load(
        cls,
        config_path: Path,
        repo: Path,
        state_dir: Path,
        *,
        repo_proposals: bool = True,
        allowed_tools: Iterable[str] | None = None,
        output_limit: int = 30_000,
    ) -> Extensions:
        """Read the user's config and the repository's trusted proposals; starts nothing.

        `repo_proposals=False` (the CI bot) ignores the repository's proposals entirely."""
        tables = read_user_tables(config_path)
        servers: dict[str, ServerEntry] = {
            name: (spec, True) for name, spec in load_user_servers(config_path).items()
        }
        skipped: list[str] = []
        proposals: dict[str, Any] = {}
        if repo_proposals:
            try:
                proposals = load_repo_proposals(repo)
            except UserError as err:  # never started anyway: a bad proposal must not block the run
                skipped.append(f"the repository's MCP proposals were ignored: {err}")
        if proposals:
            trust = TrustStore(state_dir)
            for name, spec in proposals.items():
                if name in servers:
                    skipped.append(f"the repository proposes MCP server `{name}`; yours of that name is used")
                elif trust.is_trusted(repo, name, spec):
                    servers[name] = (spec, False)
                else:
                    skipped.append(
                        f"the repository proposes MCP server `{name}` (not started: "
                        f"review it with `qcode mcp list`, then `qcode mcp trust {name}`)"
                    )
        return cls(servers, load_hooks(tables, str(config_path)), allowed_tools, output_limit, skipped)

    def open(
        self,
        base: ToolRegistry,
        bus: EventBus,
        sandbox: Sandbox,
        event: dict[str, Any],
        cwd: Path,
        hooks_cwd: Path,
    ) -> ToolRegistry:
        """Start the servers and session_start hooks; the session's registry (hooks around dispatch).

        `cwd` (the repository) is where trusted proposals start; hooks start in `hooks_cwd`, a folder
        of qcode's own, never the repository (whose files would shadow the hook's tools)."""

        def notify(level: str, text: str) -> None:
            bus.emit(Notice(level="warning" if level == "warning" else "info", text=text))

        for text in self.skipped:
            notify("info", text)
        tools = base.tools()
        if self.servers:
            from qcode.tools.mcp.manager import McpManager

            container = getattr(sandbox, "container_id", None) or None
            self._mcp = McpManager(self.servers, notify, self.output_limit, container, cwd)
            tools += self._mcp.start()
        if self.allowed_tools is not None:
            tools = [tool for tool in tools if tool.name in self.allowed_tools]
        tools = _first_of_each_name(tools, notify)
        self.read_only_tools = frozenset(t.name for t in tools if getattr(t, "read_only", False))
        self.hooks = Hooks(self.hooks_config, hooks_cwd, event, lambda text: notify("warning", text))
        self.start_context = self.hooks.session_start()
        return HookedRegistry(tools, self.hooks)

    def new_run(self) -> None:
        if self.hooks is not None:
            self.hooks.stop_refusals = 0

    def close(self) -> None:
        if self._mcp is not None:
            self._mcp.close()
            self._mcp = None


def _first_of_each_name(tools: list[Any], notify: Callable[[str, str], None]) -> list[Any]:
    """One tool per name, the first (qcode's own come first): two servers whose names clean to the
    same prefix must not let the second's tool take the first's place, or its read-only mark."""
    kept: dict[str, Any] = {}
    for tool in tools:
        if tool.name in kept:
            notify("warning", f"tool `{tool.name}` is offered twice; the first one is kept")
            continue
        kept[tool.name] = tool
    return list(kept.values())
