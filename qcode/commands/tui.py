"""`qcode tui`: the interactive app (bare `qcode` in a terminal opens it too)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

__all__ = ["command"]


@click.command()
@click.option(
    "--repo",
    type=click.Path(path_type=Path),
    default=Path("."),
    show_default=True,
    help="The git repository to work on.",
)
@click.option("--engine", help="vllm, openai or replay:FILE.")
@click.option("--model", help="Model name or local folder.")
@click.option("--max-steps", type=int, help="Model calls per run, the planner's included.")
@click.option("--verify", "verify_command", help="Command run in the sandbox after finish, e.g. 'pytest -q'.")
@click.option(
    "--approval",
    type=click.Choice(["ask", "auto-edit", "yolo"]),
    help="ask: edits and shell commands outside a safe list ask first; auto-edit: only those "
    "shell commands ask; yolo: nothing asks (everything still runs in the sandbox).",
)
@click.option("--no-daemon", is_flag=True, help="Load the model in this process, not in the warm engine.")
def command(
    repo: Path,
    engine: str | None,
    model: str | None,
    max_steps: int | None,
    verify_command: str | None,
    approval: str | None,
    no_daemon: bool,
) -> None:
    """Open the interactive app: type a task, watch the plan and every tool call, follow up."""
    from qcode.agent.engines import preflight
    from qcode.agent.workspace import inspect_repo
    from qcode.config import load_settings
    from qcode.runner import check_sandbox

    settings = load_settings(
        {
            "engine": engine,
            "model": model,
            "max_steps": max_steps,
            "verify_command": verify_command,
            "approval": approval,
            "engine_daemon": False if no_daemon else None,
        },
        repo,
    ).settings
    # Bad input fails here, as one line, before the screen switches: the repository, Docker and the image…
    inspect_repo(repo)
    preflight(settings.engine)  # no GPU for the default engine: one line now, not 15 s later
    check_sandbox(settings)
    # …and a replay file (cheap to load); a real model loads inside the app, where progress shows.
    prebuilt = None
    if settings.engine.startswith("replay:"):
        from qcode.agent.engines import make_engine

        prebuilt = make_engine(settings.engine, settings)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise click.UsageError("qcode tui needs a terminal; use `qcode fix` in scripts")

    from qcode.tui.app import QcodeApp

    app = QcodeApp(settings, repo, engine=prebuilt)
    try:
        app.run()
    finally:
        app.close_session()  # idempotent; covers a crash of the app itself
    sys.exit(app.return_code or 0)
