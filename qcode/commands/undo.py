"""`qcode undo`: take back a session's last changes, as a new commit on its branch."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from qcode.agent.exceptions import UserError
from qcode.agent.sessions import SessionMeta, list_sessions
from qcode.agent.undo import UndoOutcome, undo_session
from qcode.agent.untrusted import for_markup as escape  # also ESC/OSC, control and bidi characters
from qcode.agent.workspace import inspect_repo
from qcode.config import load_settings

__all__ = ["command"]


@click.command()
@click.option(
    "--session", "session_id", help="Session id (see --list); default: the latest session of --repo."
)
@click.option("--steps", type=int, default=1, show_default=True, help="How many changes to take back.")
@click.option(
    "--repo",
    type=click.Path(path_type=Path),
    default=Path("."),
    show_default=True,
    help="The git repository whose sessions --list shows and whose latest session is undone.",
)
@click.option("--list", "show_list", is_flag=True, help="List this repository's sessions instead.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON on stdout (the list, or the undo's outcome)."
)
def command(session_id: str | None, steps: int, repo: Path, show_list: bool, as_json: bool) -> None:
    """Undo the last changes of a session (its workspace checkpoints), committed on its branch."""
    state_dir = load_settings({}, None).settings.state_dir
    if show_list or session_id is None:
        root = inspect_repo(repo).root  # outside a repository: one line naming --repo
        sessions = list_sessions(state_dir, root)
        if show_list:
            _print_list(sessions, as_json)
            return
        if not sessions:
            raise UserError(f"no qcode session for {root}; pass --session ID (see `qcode undo --list`)")
        session_id = sessions[0].id
    _print_outcome(undo_session(state_dir, session_id, steps), as_json)


def _print_list(sessions: list[SessionMeta], as_json: bool) -> None:
    if as_json:
        fields = {"id", "branch", "status", "task", "created", "updated", "tip"}
        click.echo(json.dumps([meta.model_dump(include=fields) for meta in sessions]))
        return
    if not sessions:
        Console(stderr=True).print("no qcode sessions for this repository yet")
        return
    table = Table("session", "branch", "status", "task")
    table.columns[0].no_wrap = True  # `--session` needs the whole id
    table.columns[1].overflow = "fold"
    for meta in sessions:
        table.add_row(meta.id, escape(meta.branch), meta.status, escape(" ".join(meta.task.split())[:60]))
    Console().print(table)


def _print_outcome(outcome: UndoOutcome, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(outcome.model_dump(exclude_none=True)))
        return
    console = Console(stderr=True, soft_wrap=True)
    if outcome.commit is None:
        console.print(f"session {outcome.session_id}: {outcome.message}")
    else:
        console.print(f"session {outcome.session_id}: restored to {outcome.restored_to}")
        console.print(f"branch {outcome.branch} → {outcome.commit}\n{outcome.diffstat}")
