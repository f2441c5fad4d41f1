"""`qcode bot`: the CI front door. Reads GitHub Actions' conventions, or the same as flags."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import click
from pydantic import SecretStr

from qcode.agent.events import EventBus
from qcode.agent.untrusted import for_markup as escape
from qcode.bot.events import load_event
from qcode.bot.runner import BotOptions, BotOutcome, run_bot
from qcode.bot.triggers import TriggerConfig
from qcode.cli import stderr
from qcode.config import load_settings
from qcode.progress import ProgressPrinter
from qcode.stream_json import OUTPUT_FORMATS, SCHEMA_VERSION, StreamJsonWriter

__all__ = ["command"]


def _forget_token(token: str | None) -> None:
    """Drop every variable holding the token from our own environment, so no child process (host
    git for the session, Docker, an engine) inherits it; only the push gets it, explicitly."""
    if token:
        for name in [name for name, value in os.environ.items() if value == token]:
            del os.environ[name]


def _write_outputs(outcome: BotOutcome) -> None:
    """Step outputs for the workflow (GITHUB_OUTPUT), when running in GitHub Actions."""
    path = os.environ.get("GITHUB_OUTPUT")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as out:
        out.write(f"action={outcome.action}\n")
        out.write(f"status={outcome.result.status if outcome.result else ''}\n")
        out.write(f"branch={outcome.branch or ''}\n")
        out.write(f"pull-request={outcome.pull.html_url if outcome.pull else ''}\n")


@click.command()
@click.option(
    "--event",
    "event_path",
    type=click.Path(path_type=Path),
    envvar="GITHUB_EVENT_PATH",
    help="The event payload JSON.  [env: GITHUB_EVENT_PATH]",
)
@click.option(
    "--event-name",
    envvar="GITHUB_EVENT_NAME",
    help="issues or issue_comment; guessed from the payload if unset.  [env: GITHUB_EVENT_NAME]",
)
@click.option(
    "--github-repo",
    "repo",
    envvar="GITHUB_REPOSITORY",
    metavar="OWNER/NAME",
    help="The repository on GitHub; default: the event's repository.  [env: GITHUB_REPOSITORY]",
)
@click.option(
    "--repo",
    "repo_alias",
    hidden=True,
    help="Old name of --github-repo (elsewhere --repo is a local path).",
)
@click.option(
    "--api-url",
    envvar="GITHUB_API_URL",
    default="https://api.github.com",
    show_default=True,
    help="[env: GITHUB_API_URL]",
)
@click.option(
    "--token",
    envvar="GITHUB_TOKEN",
    show_default=False,
    help="Token for git push and the API; prefer the env var.  [env: GITHUB_TOKEN]",
)
@click.option(
    "--checkout",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("."),
    help="The checked-out repository.  [default: the current folder]",
)
@click.option(
    "--label",
    envvar="QCODE_BOT_LABEL",
    default="qcode",
    show_default=True,
    help="Issue label that triggers a run.",
)
@click.option(
    "--trigger",
    envvar="QCODE_BOT_TRIGGER",
    default="@qcode",
    show_default=True,
    help="Comment prefix that triggers a run.",
)
@click.option(
    "--bot-login",
    "bot_logins",
    multiple=True,
    help="A login whose comments never trigger (repeatable; github-actions[bot] always).",
)
@click.option(
    "--allow",
    "allowed",
    multiple=True,
    help="author_association allowed to trigger by comment (repeatable; default OWNER, MEMBER, "
    "COLLABORATOR).",
)
@click.option("--base", help="Branch the pull request targets.  [default: the repository's default branch]")
@click.option("--engine", help="vllm, openai or replay:FILE.")
@click.option("--model", help="Model name or local folder.")
@click.option("--max-steps", type=int, help="Model calls, the planner's included.")
@click.option("--verify", "verify_command", help="Command run in the sandbox after finish, e.g. 'pytest -q'.")
@click.option(
    "--attempts",
    type=click.IntRange(1, 16),
    help="Run N attempts and open the pull request with the verified one (its table in the body).",
)
@click.option(
    "--dry-run", is_flag=True, help="Touch no remote: write the patch, PR body and API calls to --out."
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="Output folder of --dry-run.  [default: $RUNNER_TEMP/qcode-bot-dry-run, else in the temp "
    "folder: outside the checkout, which must stay clean for the next run]",
)
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as one JSON object on stdout.")
@click.option(
    "--output-format",
    type=click.Choice(OUTPUT_FORMATS),
    default="text",
    show_default=True,
    help="stdout: nothing, the outcome as one JSON object (json), or one JSON event per line as it "
    "happens, ending with that object as a `result` line (stream-json).",
)
@click.option(
    "--api-backoff", type=float, default=1.0, hidden=True, help="Seconds before the first API retry."
)
def command(
    event_path: Path | None,
    event_name: str | None,
    repo: str | None,
    repo_alias: str | None,
    api_url: str,
    token: str | None,
    checkout: Path,
    label: str,
    trigger: str,
    bot_logins: tuple[str, ...],
    allowed: tuple[str, ...],
    base: str | None,
    engine: str | None,
    model: str | None,
    max_steps: int | None,
    verify_command: str | None,
    attempts: int | None,
    dry_run: bool,
    out: Path | None,
    as_json: bool,
    output_format: str,
    api_backoff: float,
) -> None:
    """Turn a labelled GitHub issue (or an `@qcode` comment) into a pull request."""
    _forget_token(token)
    if event_path is None:
        raise click.UsageError("no event: run in GitHub Actions (GITHUB_EVENT_PATH) or pass --event PATH")
    event = load_event(event_path, event_name)
    triggers = TriggerConfig(
        label=label,
        comment_prefix=trigger,
        bot_logins=["github-actions[bot]", *bot_logins],
        **({"allowed_associations": list(allowed)} if allowed else {}),
    )
    out = out or default_dry_run_out()
    options = BotOptions(
        checkout=checkout,
        repo=repo_alias or repo or event.repository.full_name,
        api_url=api_url,
        token=SecretStr(token) if token else None,
        triggers=triggers,
        base=base,
        dry_run=out if dry_run else None,
        api_backoff=api_backoff,
    )
    flags = {
        "engine": engine,
        "model": model,
        "max_steps": max_steps,
        "verify_command": verify_command,
        "attempts": attempts,
    }
    settings = load_settings(flags, checkout if checkout.is_dir() else None).settings
    bus = EventBus()
    bus.subscribe(ProgressPrinter(stderr))
    stream = StreamJsonWriter() if output_format == "stream-json" else None
    if stream is not None:
        bus.subscribe(stream)
    outcome = run_bot(event, options, settings, bus, log=lambda line: stderr.print(f"[dim]{escape(line)}[/]"))
    _write_outputs(outcome)
    if stream is not None:
        stream.write({"type": "result", "v": SCHEMA_VERSION, **_payload(outcome)})
    _report(outcome, as_json or output_format == "json", out if dry_run else None)


def _payload(outcome: BotOutcome) -> dict[str, Any]:
    """The outcome as `--json` prints it."""
    payload: dict[str, Any] = outcome.model_dump(mode="json", exclude={"result": {"verify"}})
    return payload


def default_dry_run_out() -> Path:
    """Where --dry-run writes by default: the runner's temp folder, never inside the checkout."""
    return Path(os.environ.get("RUNNER_TEMP") or tempfile.gettempdir()) / "qcode-bot-dry-run"


def _report(outcome: BotOutcome, as_json: bool, dry_run_out: Path | None) -> None:
    if as_json:
        click.echo(json.dumps(_payload(outcome)))
    if outcome.action == "skipped":
        stderr.print(f"nothing to do: {escape(outcome.reason)}")
        sys.exit(0)
    if outcome.pull is not None and dry_run_out is not None:
        verb = "open" if outcome.action == "opened" else "update"
        stderr.print(f"dry run: would {verb} a pull request from {outcome.branch}; see {dry_run_out}")
    elif outcome.pull is not None:
        stderr.print(f"{outcome.action} pull request #{outcome.pull.number}: {outcome.pull.html_url}")
    else:
        stderr.print(f"no pull request: {escape(outcome.reason)}")
    resolved = outcome.result is not None and outcome.result.status == "resolved" and outcome.pull is not None
    sys.exit(0 if resolved else 1)
