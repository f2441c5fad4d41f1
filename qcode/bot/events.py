"""The parts of GitHub's webhook payloads the bot reads, as pydantic models.

GitHub Actions writes the triggering event's payload to `GITHUB_EVENT_PATH`. Only the `issues`
(`opened`, `labeled`) and `issue_comment` (`created`) events are understood; the payload's shape
tells which one it is (an `issue_comment` payload has a `comment`). Unknown fields are ignored,
so a newer payload still parses.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from qcode.agent.exceptions import UserError

__all__ = [
    "Comment",
    "CommentEvent",
    "GitHubEvent",
    "Issue",
    "IssuesEvent",
    "Label",
    "Repository",
    "User",
    "load_event",
    "parse_event",
]


class User(BaseModel):
    login: str
    type: str = "User"
    """`User`, `Bot` or `Organization`."""


class Label(BaseModel):
    name: str


class Issue(BaseModel):
    number: int
    title: str
    body: str | None = None
    """Markdown; null when the issue has no description."""
    user: User
    labels: list[Label] = Field(default_factory=list)
    html_url: str = ""
    pull_request: dict[str, object] | None = None
    """Present when the "issue" is a pull request (comments on pull requests are issue comments too)."""


class Comment(BaseModel):
    id: int
    body: str | None = None
    user: User
    author_association: str = "NONE"
    """OWNER, MEMBER, COLLABORATOR, CONTRIBUTOR, FIRST_TIME_CONTRIBUTOR, FIRST_TIMER or NONE."""
    html_url: str = ""


class Repository(BaseModel):
    full_name: str
    """`owner/name`."""
    default_branch: str = "main"


class IssuesEvent(BaseModel):
    """The `issues` event: an issue was opened, labelled, edited…"""

    kind: Literal["issues"] = "issues"
    action: str
    issue: Issue
    label: Label | None = None
    """The label just added, for `labeled`."""
    repository: Repository
    sender: User


class CommentEvent(BaseModel):
    """The `issue_comment` event: a comment on an issue or a pull request."""

    kind: Literal["issue_comment"] = "issue_comment"
    action: str
    issue: Issue
    comment: Comment
    repository: Repository
    sender: User


GitHubEvent = IssuesEvent | CommentEvent


def parse_event(payload: object, name: str | None = None) -> GitHubEvent:
    """A webhook payload → its model; `name` is `GITHUB_EVENT_NAME` when known."""
    if not isinstance(payload, dict):
        raise UserError("the event payload is not a JSON object; pass --event PATH to GitHub's event JSON")
    if name is None:
        name = "issue_comment" if "comment" in payload else "issues"
    if name not in ("issues", "issue_comment"):
        raise UserError(
            f"qcode bot handles `issues` and `issue_comment` events, not `{name}`; "
            "trigger the workflow on those"
        )
    model = CommentEvent if name == "issue_comment" else IssuesEvent
    try:
        return model.model_validate({k: v for k, v in payload.items() if k != "kind"})
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise UserError(
            f"the {name} event payload is missing or has a bad `{where}` ({first['msg']}); "
            "pass GitHub's event JSON with --event PATH"
        ) from None


def load_event(path: Path, name: str | None = None) -> GitHubEvent:
    """Read and parse the event file (GitHub Actions' `GITHUB_EVENT_PATH`)."""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(
            f"event file {path} does not exist; pass --event PATH or set GITHUB_EVENT_PATH"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UserError(f"event file {path} is not valid JSON ({err}); pass GitHub's event payload") from None
    return parse_event(payload, name)
