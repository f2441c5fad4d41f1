"""`qcode undo`: take back a session's last changes, as a new commit on its branch."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from qcode.agent.exceptions import UserError
from qcode.agent.sessions import list_sessions
from qcode.agent.undo import undo_session
from qcode.config import load_settings


@click.command()
@click.option("--session", "session_id", help="Session id; default: the latest session of --repo.")
@click.option("--steps", type=int, default=1, show_default=True, help="How many changes to take back.")
@click.option("--repo", type=click.Path(path_type=Path), default=Path("."), show_default=True)
@click.option("--list", "show_list", is_flag=True, help="List this repository's sessions instead.")
@click.option("--json", "as_json", is_flag=True)
def command(session_id: str | None, steps: int, repo: Path, show_list: bool, as_json: bool) -> None:
    """Undo the last changes of a session (its workspace checkpoints), committed on its branch."""
    state_dir = load_settings({}, None).settings.state_dir
    sessions = list_sessions(state_dir, repo if repo.is_dir() else None)
    if show_list:
        table = Table("session", "branch", "status", "task")
        for meta in sessions:
            table.add_row(
                meta.id, meta.branch, meta.status, meta.task.splitlines()[0][:60] if meta.task else ""
            )
        Console().print(table)
        return
    if session_id is None:
        if not sessions:
            raise UserError(
                f"no qcode session for {repo.resolve()}; pass --session ID (see `qcode undo --list`)"
            )
        session_id = sessions[0].id
    outcome = undo_session(state_dir, session_id, steps)
    if as_json:
        click.echo(json.dumps(outcome.model_dump()))
        return
    console = Console(stderr=True, soft_wrap=True)
    if outcome.commit is None:
        console.print(f"session {outcome.session_id}: nothing changed ({outcome.restored_to})")
    else:
        console.print(f"session {outcome.session_id}: restored to {outcome.restored_to}")
        console.print(f"branch {outcome.branch} → {outcome.commit}\n{outcome.diffstat}")
