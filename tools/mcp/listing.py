"""What `qcode mcp list` and the TUI's `/mcp` show: every server, its source and its trust."""

from __future__ import annotations

from pathlib import Path

from qcode.tools.mcp.config import ServerSpec, load_repo_proposals, load_user_servers
from qcode.tools.mcp.trust import TrustStore

__all__ = ["describe", "server_rows"]


def describe(spec: ServerSpec) -> str:
    """What runs, without secret values (env and header names only)."""
    if spec.url is not None:
        where = spec.url + (f" headers: {', '.join(spec.headers)}" if spec.headers else "")
    else:
        where = " ".join([spec.command or "", *spec.args])
        where += f" env: {', '.join(spec.env)}" if spec.env else ""
    return where + (" (in the sandbox)" if spec.sandbox else "")


def server_rows(config_path: Path, repo: Path | None, state_dir: Path) -> list[dict[str, str]]:
    """{name, source: user|repo, status: enabled|disabled|trusted|untrusted|changed, runs}, in order."""
    rows = [
        {
            "name": name,
            "source": "user",
            "status": "enabled" if spec.enabled else "disabled",
            "runs": describe(spec),
        }
        for name, spec in load_user_servers(config_path).items()
    ]
    if repo is not None and repo.is_dir():
        trust = TrustStore(state_dir)
        for name, spec in load_repo_proposals(repo).items():
            rows.append(
                {
                    "name": name,
                    "source": "repo",
                    "status": trust.state(repo, name, spec),
                    "runs": describe(spec),
                }
            )
    return rows
