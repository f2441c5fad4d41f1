"""`qcode bot --dry-run`: a Forge that records the API calls it would make, touching no remote.

The output folder gets `api-calls.json` (method, path, query, JSON body of each call, in order),
`pr-body.md`, `comment.md` and `result.patch`. With no remote to ask, it assumes the default branch
from the event and that no pull request is open yet.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qcode.bot.github import PullRequest

__all__ = ["DryRunForge"]


class DryRunForge:
    def __init__(self, out: Path, repo: str, default_branch: str) -> None:
        self.out, self.repo, self.owner = out, repo, repo.split("/", 1)[0]
        self._default_branch = default_branch
        self.calls: list[dict[str, Any]] = []

    def close(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "api-calls.json").write_text(json.dumps(self.calls, indent=2) + "\n", encoding="utf-8")

    def _record(
        self, method: str, path: str, query: dict[str, str] | None = None, body: dict[str, Any] | None = None
    ) -> None:
        self.calls.append({"method": method, "path": path, "query": query, "json": body})

    def default_branch(self) -> str:
        return self._default_branch

    def find_open_pull(self, branch: str) -> PullRequest | None:
        self._record("GET", f"/repos/{self.repo}/pulls", {"head": f"{self.owner}:{branch}", "state": "open"})
        return None

    def create_pull(self, *, title: str, head: str, base: str, body: str, draft: bool) -> PullRequest:
        self._record(
            "POST",
            f"/repos/{self.repo}/pulls",
            body={
                "title": title,
                "head": head,
                "base": base,
                "body": body,
                "draft": draft,
                "maintainer_can_modify": True,
            },
        )
        self.write("pr-body.md", body)
        return PullRequest(number=0, html_url="(dry run: no pull request was opened)", draft=draft)

    def update_pull(self, number: int, *, title: str, body: str) -> PullRequest:
        self._record("PATCH", f"/repos/{self.repo}/pulls/{number}", body={"title": title, "body": body})
        self.write("pr-body.md", body)
        return PullRequest(number=number, html_url="(dry run)")

    def comment(self, issue: int, body: str) -> str:
        self._record("POST", f"/repos/{self.repo}/issues/{issue}/comments", body={"body": body})
        self.write("comment.md", body)
        return "(dry run)"

    def write(self, name: str, text: str) -> Path:
        self.out.mkdir(parents=True, exist_ok=True)
        path = self.out / name
        path.write_text(text, encoding="utf-8")
        return path
