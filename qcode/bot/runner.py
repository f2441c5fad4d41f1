"""One bot run: event → trigger check → `qcode fix` core → push → pull request → issue comment.

Order matters for cost and safety: everything that can fail cheaply (trigger, branch, token,
repository access) is checked before the model starts; the token stays on the host (git push and
API calls) and never reaches the session, whose task is built from the issue as quoted data.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager, suppress
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, SecretStr

from qcode.agent.contracts import PlanStep
from qcode.agent.events import EventBus, PlanUpdated
from qcode.agent.exceptions import GitError, UserError
from qcode.agent.hostgit import run_git
from qcode.agent.session import RunResult
from qcode.bot.dryrun import DryRunForge
from qcode.bot.events import GitHubEvent
from qcode.bot.github import Forge, GitHubClient, PullRequest
from qcode.bot.publish import ensure_branch_free, push_branch
from qcode.bot.report import comment_done, comment_nothing, pr_body, pr_title, task_text
from qcode.bot.triggers import TriggerConfig, decide
from qcode.config import Settings

__all__ = ["BotOptions", "BotOutcome", "branch_for", "run_bot"]

Log = Callable[[str], None]


class BotOptions(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    checkout: Path
    """The checked-out repository (GitHub Actions: the working directory)."""
    repo: str
    """`owner/name` on GitHub (GITHUB_REPOSITORY)."""
    api_url: str = "https://api.github.com"
    """GITHUB_API_URL; GitHub Enterprise servers have their own."""
    token: SecretStr | None = None
    """Used on the host only, for git push and the API. Not needed for --dry-run."""
    triggers: TriggerConfig = TriggerConfig()
    base: str | None = None
    """Branch the pull request targets; by default the repository's default branch."""
    dry_run: Path | None = None
    """Write the patch, the PR body and the API calls here instead of touching any remote."""
    api_attempts: int = 3
    api_backoff: float = 1.0
    """Seconds before the first retry of a 5xx answer; doubles each time."""


class BotOutcome(BaseModel):
    action: Literal["skipped", "opened", "updated", "no_change"]
    reason: str
    branch: str | None = None
    pull: PullRequest | None = None
    result: RunResult | None = None


def branch_for(issue: int) -> str:
    return f"qcode/issue-{issue}"


class _PlanRecorder:
    """Keeps the latest plan from the loop's events (front doors only subscribe)."""

    def __init__(self) -> None:
        self.plan: list[PlanStep] = []

    def __call__(self, event: object) -> None:
        if isinstance(event, PlanUpdated):
            self.plan = list(event.plan)


def _forge(event: GitHubEvent, options: BotOptions) -> Forge:
    if options.dry_run is not None:
        return DryRunForge(options.dry_run, options.repo, event.repository.default_branch)
    if options.token is None or not options.token.get_secret_value():
        raise UserError(
            "no GitHub token; set GITHUB_TOKEN (e.g. `env: GITHUB_TOKEN: ${{ github.token }}`) "
            "or pass --token, or use --dry-run"
        )
    if "/" not in options.repo:
        raise UserError(f"--repo must be owner/name, not {options.repo!r} (GITHUB_REPOSITORY)")
    return GitHubClient(
        options.api_url,
        options.repo,
        options.token.get_secret_value(),
        attempts=options.api_attempts,
        backoff=options.api_backoff,
    )


def run_bot(
    event: GitHubEvent, options: BotOptions, settings: Settings, bus: EventBus, log: Log = lambda _: None
) -> BotOutcome:
    """Handle one event. Raises UserError (GitHubError included) or GitError with a one-line message."""
    from qcode.runner import new_session  # Docker and the engines load only when there is work

    decision = decide(event, options.triggers)
    if not decision.run:
        return BotOutcome(action="skipped", reason=decision.reason)
    log(f"triggered: {decision.reason}")
    issue, branch = event.issue.number, branch_for(event.issue.number)
    ensure_branch_free(options.checkout, branch)
    forge = _forge(event, options)
    with closing(forge):
        base = options.base or forge.default_branch()  # the real client's preflight: token and repo access
        recorder = _PlanRecorder()
        bus.subscribe(recorder)
        patch_out = options.dry_run / "result.patch" if options.dry_run else None
        started = time.monotonic()
        table = ""
        if settings.attempts > 1 or settings.engine.startswith("mix:"):  # issue 17: attempts
            from qcode.bot.attempts import run_bot_attempts

            with _branch_kept_as_is(options.checkout, branch, options.dry_run is not None):
                attempts = run_bot_attempts(
                    settings, options.checkout, task_text(event, decision.comment), branch, bus, patch_out,
                    options.dry_run is not None,
                )  # fmt: skip
            result, recorder.plan, table = attempts.result, attempts.plan, attempts.table
        else:
            # Only the servers of the config the workflow passes (QCODE_CONFIG); never the repo's proposals.
            with (
                _branch_kept_as_is(options.checkout, branch, options.dry_run is not None),
                new_session(
                    settings,
                    options.checkout,
                    bus=bus,
                    branch=branch,
                    patch_out=patch_out,
                    repo_proposals=False,
                ) as session,
            ):
                if session.repo.branch != base:
                    log(
                        f"note: the checkout is on {session.repo.branch!r}, the pull request targets {base!r}"
                    )
                result = session.run(task_text(event, decision.comment))
        duration = time.monotonic() - started
        if result.commit is None:
            forge.comment(issue, comment_nothing(result))
            return BotOutcome(action="no_change", reason=result.reason, result=result)
        if options.dry_run is None:
            push_branch(options.checkout, branch, options.token.get_secret_value() if options.token else None)
            log(f"pushed {branch} to origin")
        else:
            log(f"dry run: would force-push {branch} to origin; nothing was pushed")
        body = pr_body(issue, result, recorder.plan, duration, attempts_table=table)
        pull, created = _open_or_update(forge, event, branch, base, body, draft=result.status != "resolved")
        forge.comment(issue, comment_done(pull, created, result))
    return BotOutcome(
        action="opened" if created else "updated",
        reason=result.reason,
        branch=branch,
        pull=pull,
        result=result,
    )


@contextmanager
def _branch_kept_as_is(checkout: Path, branch: str, dry_run: bool) -> Iterator[None]:
    """A dry run leaves the checkout's branches as they were: the session publishes its branch there
    (for the push), so put the branch back afterwards (or delete it when it did not exist)."""
    if not dry_run:
        yield
        return
    ref = f"refs/heads/{branch}"
    try:
        before: str | None = run_git(["rev-parse", "--verify", "-q", ref], checkout).strip()
    except GitError:
        before = None
    try:
        yield
    finally:
        with suppress(GitError):
            run_git(["update-ref", ref, before] if before else ["update-ref", "-d", ref], checkout)


def _open_or_update(
    forge: Forge, event: GitHubEvent, branch: str, base: str, body: str, draft: bool
) -> tuple[PullRequest, bool]:
    """Idempotence: the open pull request of the issue's branch is updated, never duplicated."""
    existing = forge.find_open_pull(branch)
    if existing is not None:
        return forge.update_pull(existing.number, title=pr_title(event), body=body), False
    return forge.create_pull(title=pr_title(event), head=branch, base=base, body=body, draft=draft), True
