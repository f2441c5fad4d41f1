"""Which events start a run. A pure function of the event and the configured triggers.

Default: the label `qcode` on an issue (added, or present when it is opened), and a comment
that starts with `@qcode` from someone with write access. The bot's own comments never trigger
it: they carry a hidden marker, and bot accounts are ignored altogether.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from qcode.bot.events import CommentEvent, GitHubEvent, IssuesEvent, User

__all__ = ["BOT_MARKER", "Decision", "TriggerConfig", "decide"]

BOT_MARKER = "<!-- qcode-bot -->"
"""Hidden in every comment and pull request body the bot writes, so it never answers itself."""


class TriggerConfig(BaseModel):
    label: str = "qcode"
    """An issue with this label starts a run."""
    comment_prefix: str = "@qcode"
    """A comment starting with this starts a run (the rest of the comment goes to the model)."""
    bot_logins: list[str] = Field(default_factory=lambda: ["github-actions[bot]"])
    """Accounts whose comments never trigger (the bot's own, whatever token it uses)."""
    allowed_associations: list[str] = Field(default_factory=lambda: ["OWNER", "MEMBER", "COLLABORATOR"])
    """Who may trigger by comment. Anyone can comment on a public issue; only these may spend the
    runner's GPU and push a branch. (Adding a label already needs triage rights.)"""


class Decision(BaseModel):
    run: bool
    reason: str
    """Why not, when `run` is False; what triggered it otherwise."""
    comment: str | None = None
    """The triggering comment's text, when a comment triggered the run."""


def _is_bot(user: User, config: TriggerConfig) -> bool:
    return user.type == "Bot" or user.login in config.bot_logins or user.login.endswith("[bot]")


def _skip(reason: str) -> Decision:
    return Decision(run=False, reason=reason)


def decide(event: GitHubEvent, config: TriggerConfig) -> Decision:
    """Whether this event should start a run, and why (not)."""
    if event.issue.pull_request is not None:
        return _skip(f"#{event.issue.number} is a pull request; qcode bot works on issues")
    if isinstance(event, IssuesEvent):
        return _decide_issue(event, config)
    return _decide_comment(event, config)


def _decide_issue(event: IssuesEvent, config: TriggerConfig) -> Decision:
    if event.action == "labeled":
        name = event.label.name if event.label else None
        if name != config.label:
            return _skip(f"label {name!r} is not the trigger label {config.label!r}")
        return Decision(run=True, reason=f"label {config.label!r} added to #{event.issue.number}")
    if event.action == "opened":
        if config.label not in {label.name for label in event.issue.labels}:
            return _skip(f"#{event.issue.number} was opened without the label {config.label!r}")
        return Decision(run=True, reason=f"#{event.issue.number} opened with the label {config.label!r}")
    return _skip(f"issues event action {event.action!r} is not `labeled` or `opened`")


def _decide_comment(event: CommentEvent, config: TriggerConfig) -> Decision:
    comment = event.comment
    body = (comment.body or "").strip()
    if event.action != "created":
        return _skip(f"issue_comment action {event.action!r} is not `created`")
    if BOT_MARKER in body or _is_bot(comment.user, config):
        return _skip(f"the comment is by the bot ({comment.user.login}) itself")
    if not body.startswith(config.comment_prefix):
        return _skip(f"the comment does not start with {config.comment_prefix!r}")
    if comment.author_association not in config.allowed_associations:
        return _skip(
            f"{comment.user.login} ({comment.author_association}) may not trigger qcode; "
            f"allowed: {', '.join(config.allowed_associations)}"
        )
    return Decision(
        run=True,
        reason=f"{config.comment_prefix} comment by {comment.user.login}",
        comment=body[len(config.comment_prefix) :].strip(),
    )
