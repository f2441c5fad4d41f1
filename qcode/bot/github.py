"""The few GitHub REST calls the bot makes, over httpx, with one-line errors.

Server errors (5xx) and dropped connections are retried with exponential backoff; 4xx answers
are not (they will not change) and become a `GitHubError` that says what to fix. The token is
sent only in the Authorization header; it never appears in a message.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

import httpx
from pydantic import BaseModel

from qcode.agent.exceptions import UserError

__all__ = ["API_VERSION", "Forge", "GitHubClient", "GitHubError", "PullRequest"]

API_VERSION = "2022-11-28"
"""The REST API version the request and response shapes below follow."""


class GitHubError(UserError):
    """A GitHub API call failed; the message names the call and the fix."""


class PullRequest(BaseModel):
    number: int
    html_url: str
    draft: bool = False


class Forge(Protocol):
    """What the bot needs from a code host: the real client, or the dry-run recorder."""

    def default_branch(self) -> str: ...

    def find_open_pull(self, branch: str) -> PullRequest | None: ...

    def create_pull(self, *, title: str, head: str, base: str, body: str, draft: bool) -> PullRequest: ...

    def update_pull(self, number: int, *, title: str, body: str) -> PullRequest: ...

    def comment(self, issue: int, body: str) -> str: ...

    def close(self) -> None: ...


class GitHubClient:
    """`owner/name` on the GitHub (or GitHub Enterprise) API at `api_url`."""

    def __init__(
        self,
        api_url: str,
        repo: str,
        token: str,
        *,
        attempts: int = 3,
        backoff: float = 1.0,
        timeout: float = 30.0,
    ) -> None:
        self.repo, self.owner = repo, repo.split("/", 1)[0]
        self.attempts, self.backoff = max(1, attempts), backoff
        self._http = httpx.Client(
            base_url=api_url.rstrip("/"),
            timeout=timeout,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "qcode-bot",
            },
        )

    def __enter__(self) -> GitHubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- the calls ---------------------------------------------------------------------------

    def default_branch(self) -> str:
        """Also the preflight check: a bad token or repository fails here, before any model work."""
        return str(self._call("GET", f"/repos/{self.repo}")["default_branch"])

    def find_open_pull(self, branch: str) -> PullRequest | None:
        found = self._call(
            "GET", f"/repos/{self.repo}/pulls", params={"head": f"{self.owner}:{branch}", "state": "open"}
        )
        return PullRequest.model_validate(found[0]) if found else None

    def create_pull(self, *, title: str, head: str, base: str, body: str, draft: bool) -> PullRequest:
        created = self._call(
            "POST",
            f"/repos/{self.repo}/pulls",
            json={
                "title": title,
                "head": head,
                "base": base,
                "body": body,
                "draft": draft,
                "maintainer_can_modify": True,
            },
        )
        return PullRequest.model_validate(created)

    def update_pull(self, number: int, *, title: str, body: str) -> PullRequest:
        updated = self._call(
            "PATCH", f"/repos/{self.repo}/pulls/{number}", json={"title": title, "body": body}
        )
        return PullRequest.model_validate(updated)

    def comment(self, issue: int, body: str) -> str:
        """Comment on an issue; returns the comment's URL."""
        return str(
            self._call("POST", f"/repos/{self.repo}/issues/{issue}/comments", json={"body": body}).get(
                "html_url", ""
            )
        )

    # -- transport ---------------------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        what = f"{method} {path}"
        last = ""
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TransportError as err:
                last = f"{type(err).__name__}: {err}"
                continue
            if response.status_code < 500:
                return _result(response, what)
            last = f"{response.status_code} {response.reason_phrase}"
        raise GitHubError(
            f"GitHub API {what} failed {self.attempts} times (last: {last}); "
            f"check {self._http.base_url} is reachable, or run again later"
        )


def _result(response: httpx.Response, what: str) -> Any:
    if response.is_success:
        return response.json() if response.content else {}
    raise GitHubError(_explain(response, what))


def _explain(response: httpx.Response, what: str) -> str:
    """One line for a 4xx answer: GitHub's own message plus what to do about it."""
    status = response.status_code
    try:
        payload = response.json()
    except ValueError:
        payload = {}
    if not isinstance(payload, dict):
        payload = {}
    message = str(payload.get("message", response.reason_phrase))
    errors = [e for e in payload.get("errors", []) if isinstance(e, dict)]
    details = [str(e.get("message", e.get("code", ""))) for e in errors]
    if status == 401:
        return (
            f"GitHub rejected the token on {what} (401 {message}); pass a valid token with GITHUB_TOKEN "
            "or --token"
        )
    if status == 403:
        return (
            f"GitHub refused {what} (403 {message}); the token needs `contents: write`, "
            "`pull-requests: write` and `issues: write`, and Actions must be allowed to create pull "
            "requests (repository settings)"
        )
    if status == 404:
        return (
            f"GitHub found nothing at {what} (404 {message}); check the repository name "
            "(--repo owner/name, GITHUB_REPOSITORY) and that the token can see it"
        )
    if status == 422 and any("already exists" in d for d in details):
        return (
            f"GitHub refused {what}: {details[0].rstrip('.')} (422) though none was open a moment "
            "before; another run may have opened it meanwhile: run qcode bot again to update that one"
        )
    detail = "; ".join(d for d in details if d) or message
    return f"GitHub refused {what} ({status} {detail})"
