"""A fake GitHub REST API on 127.0.0.1: a real HTTP server implementing the few endpoints the bot
uses, checking each request the way GitHub documents it, and recording everything.

Checked on every request: `Authorization: Bearer <token>` (401 "Bad credentials" otherwise),
`Accept: application/vnd.github+json`, `X-GitHub-Api-Version: 2022-11-28`, JSON bodies with
`Content-Type: application/json`, and each body's fields against the documented parameters
(unknown or mistyped fields → 422 "Validation Failed", and a recorded violation). Like GitHub, it
refuses a pull request whose head branch is not on the remote, and a second open pull request for
the same head ("A pull request already exists for owner:branch.").

Endpoints (docs.github.com/rest): GET /repos/{o}/{r}; GET, POST /repos/{o}/{r}/pulls;
PATCH /repos/{o}/{r}/pulls/{n}; POST /repos/{o}/{r}/issues/{n}/comments.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt, StrictStr, ValidationError

from tests.local_http import LocalHttpServer

API_VERSION = "2022-11-28"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreatePull(_Strict):
    """POST /repos/{owner}/{repo}/pulls body parameters."""

    title: StrictStr | None = None
    head: StrictStr
    head_repo: StrictStr | None = None
    base: StrictStr
    body: StrictStr | None = None
    maintainer_can_modify: StrictBool | None = None
    draft: StrictBool | None = None
    issue: StrictInt | None = None


class UpdatePull(_Strict):
    """PATCH /repos/{owner}/{repo}/pulls/{pull_number} body parameters."""

    title: StrictStr | None = None
    body: StrictStr | None = None
    state: Literal["open", "closed"] | None = None
    base: StrictStr | None = None
    maintainer_can_modify: StrictBool | None = None


class CreateComment(_Strict):
    """POST /repos/{owner}/{repo}/issues/{issue_number}/comments body parameters."""

    body: StrictStr


LIST_PULLS_QUERY = {"state", "head", "base", "sort", "direction", "per_page", "page"}


class Recorded(BaseModel):
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json_body: Any = None
    status: int = 0


class Failure(BaseModel):
    method: str
    path: str
    status: int
    body: dict[str, Any]
    times: int


class FakeGitHub(LocalHttpServer):
    """Start with `with FakeGitHub(...) as api:`; `api.url` is the base URL for `--api-url`."""

    def __init__(
        self,
        repo: str = "owner/repo",
        token: str = "ghs_fake",
        default_branch: str = "main",
        branch_exists: Callable[[str], bool] = lambda _: True,
    ) -> None:
        self.repo, self.token, self.default_branch = repo, token, default_branch
        self.owner = repo.split("/")[0]
        self.branch_exists = branch_exists
        self.requests: list[Recorded] = []
        self.violations: list[str] = []
        self.pulls: list[dict[str, Any]] = []
        self.comments: list[dict[str, Any]] = []
        self._failures: list[Failure] = []
        self._lock = threading.Lock()
        super().__init__(_handler_for(self))

    def fail(
        self, method: str, path: str, status: int, body: dict[str, Any] | None = None, times: int = 1
    ) -> None:
        """The next `times` requests to `method path` get `status` (before any other check)."""
        self._failures.append(
            Failure(
                method=method,
                path=path,
                status=status,
                times=times,
                body=body or {"message": f"scripted {status}"},
            )
        )

    def calls(self, method: str, path: str | None = None) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and (path is None or r.path == path)]

    # -- request handling (called from the server's threads) --------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any]:
        parts = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode(errors="replace")
        record = Recorded(method=method, path=parts.path, query=query, headers=headers, json_body=body)
        with self._lock:
            self.requests.append(record)
            status, payload = self._respond(method, parts.path, query, headers, body)
            record.status = status
        return status, payload

    def _violation(self, text: str, status: int = 400) -> tuple[int, Any]:
        self.violations.append(text)
        return status, {"message": text}

    def _respond(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        for failure in self._failures:
            if failure.times > 0 and failure.method == method and failure.path == path:
                failure.times -= 1
                return failure.status, failure.body
        if headers.get("authorization") != f"Bearer {self.token}":
            return 401, {
                "message": "Bad credentials",
                "documentation_url": "https://docs.github.com/rest",
                "status": "401",
            }
        if "application/vnd.github+json" not in headers.get("accept", ""):
            return self._violation(f"Accept header is {headers.get('accept')!r}")
        if headers.get("x-github-api-version") != API_VERSION:
            return self._violation(f"API version {headers.get('x-github-api-version')!r} is not supported")
        if body is not None and headers.get("content-type", "").split(";")[0] != "application/json":
            return self._violation(f"Content-Type is {headers.get('content-type')!r}", 415)
        return self._route(method, path, query, body)

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        base = f"/repos/{self.repo}"
        if method == "GET" and path == base:
            return 200, {"full_name": self.repo, "default_branch": self.default_branch, "private": False}
        if method == "GET" and path == f"{base}/pulls":
            return self._list_pulls(query)
        if method == "POST" and path == f"{base}/pulls":
            return self._create_pull(body)
        if match := re.fullmatch(rf"{re.escape(base)}/pulls/(\d+)", path):
            if method == "PATCH":
                return self._update_pull(int(match.group(1)), body)
        if match := re.fullmatch(rf"{re.escape(base)}/issues/(\d+)/comments", path):
            if method == "POST":
                return self._comment(int(match.group(1)), body)
        self.violations.append(f"no such endpoint: {method} {path}")
        return 404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}

    def _invalid(self, err: ValidationError | str) -> tuple[int, Any]:
        detail = (
            err
            if isinstance(err, str)
            else "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        )
        self.violations.append(f"invalid body: {detail}")
        return 422, {
            "message": "Validation Failed",
            "errors": [{"resource": "Issue", "code": "invalid", "message": detail}],
        }

    def _list_pulls(self, query: dict[str, str]) -> tuple[int, Any]:
        if set(query) - LIST_PULLS_QUERY:
            return self._invalid(f"unknown query parameters {sorted(set(query) - LIST_PULLS_QUERY)}")
        if "head" in query and ":" not in query["head"]:
            return self._invalid("head must be user:ref-name")  # GitHub would ignore it and list everything
        state = query.get("state", "open")
        found = [
            p
            for p in self.pulls
            if state in ("all", p["state"])
            and ("head" not in query or f"{self.owner}:{p['head']['ref']}" == query["head"])
        ]
        return 200, found

    def _create_pull(self, body: Any) -> tuple[int, Any]:
        try:
            request = CreatePull.model_validate(body)
        except ValidationError as err:
            return self._invalid(err)
        head = request.head.split(":", 1)[-1]
        if not self.branch_exists(head) or not self.branch_exists(request.base):
            self.violations.append(f"branch missing on the remote: head={head} base={request.base}")
            return 422, {
                "message": "Validation Failed",
                "errors": [{"resource": "PullRequest", "field": "head", "code": "invalid"}],
            }
        if any(p["head"]["ref"] == head and p["state"] == "open" for p in self.pulls):
            return 422, {
                "message": "Validation Failed",
                "errors": [
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": f"A pull request already exists for {self.owner}:{head}.",
                    }
                ],
            }
        number = 100 + len(self.pulls)
        pull = {
            "number": number,
            "html_url": f"https://github.example/{self.repo}/pull/{number}",
            "state": "open",
            "draft": bool(request.draft),
            "title": request.title,
            "body": request.body,
            "head": {"ref": head},
            "base": {"ref": request.base},
        }
        self.pulls.append(pull)
        return 201, pull

    def _update_pull(self, number: int, body: Any) -> tuple[int, Any]:
        try:
            request = UpdatePull.model_validate(body)
        except ValidationError as err:
            return self._invalid(err)
        pull = next((p for p in self.pulls if p["number"] == number), None)
        if pull is None:
            return 404, {"message": "Not Found"}
        pull.update(request.model_dump(exclude_none=True, exclude={"base"}))
        return 200, pull

    def _comment(self, issue: int, body: Any) -> tuple[int, Any]:
        try:
            request = CreateComment.model_validate(body)
        except ValidationError as err:
            return self._invalid(err)
        comment = {
            "id": 9000 + len(self.comments),
            "issue": issue,
            "body": request.body,
            "html_url": f"https://github.example/{self.repo}/issues/{issue}#issuecomment-{len(self.comments)}",
            "user": {"login": "github-actions[bot]", "type": "Bot"},
        }
        self.comments.append(comment)
        return 201, comment


def _handler_for(api: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, payload = api.handle(self.command, self.path, headers, raw)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = _serve  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    return Handler
