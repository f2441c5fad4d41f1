"""Trust of repository-proposed MCP servers, in a state file of qcode's own.

The file maps a repository (its resolved path) to {server name: hash of the trusted entry}. A
proposal runs only while its current entry hashes to the stored value: editing the entry in the
repository (a new command, an extra argument) withdraws the trust until the user trusts it again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from qcode.tools.mcp.config import ServerSpec, entry_hash

__all__ = ["TrustStore"]

MAX_TRUST_BYTES = 1024 * 1024


class TrustStore:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "mcp-trust.json"

    def _load(self) -> dict[str, dict[str, str]]:
        try:
            if self.path.stat().st_size > MAX_TRUST_BYTES:
                return {}  # corrupt or hostile: trust nothing
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def is_trusted(self, repo: Path, name: str, spec: ServerSpec) -> bool:
        return self.state(repo, name, spec) == "trusted"

    def state(self, repo: Path, name: str, spec: ServerSpec) -> str:
        """`trusted`, `untrusted`, or `changed` (trusted once, edited since)."""
        entries = self._load().get(str(repo.resolve()), {})
        stored = entries.get(name) if isinstance(entries, dict) else None
        if stored is None:
            return "untrusted"
        return "trusted" if stored == entry_hash(spec) else "changed"

    def trust(self, repo: Path, name: str, spec: ServerSpec) -> None:
        data = self._load()
        data.setdefault(str(repo.resolve()), {})[name] = entry_hash(spec)
        self._write(data)

    def revoke(self, repo: Path, name: str) -> bool:
        data = self._load()
        removed = data.get(str(repo.resolve()), {}).pop(name, None) is not None
        if removed:
            self._write(data)
        return removed

    def _write(self, data: dict[str, dict[str, str]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.path)  # atomic: a crash never leaves half a file
