"""`qcode map`: print the repository map that the planner sees."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

__all__ = ["command"]


@click.command("map")
@click.option(
    "--repo",
    type=click.Path(path_type=Path),
    default=Path("."),
    show_default=True,
    help="The repository to map.",
)
@click.option("--focus", default="", help="Task text, identifiers or file names to rank toward.")
@click.option(
    "--tokens", type=click.IntRange(min=16), default=1024, show_default=True, help="Size of the map."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: text, files, notes, stats.")
def command(repo: Path, focus: str, tokens: int, as_json: bool) -> None:
    """Print the files most relevant to --focus with their key signatures, ranked."""
    from qcode.tools.repomap import build_repo_map

    repo_map = build_repo_map(repo, focus=focus, tokens=tokens)  # a missing folder raises UserError (exit 2)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "text": repo_map.text,
                    "files": repo_map.files,
                    "notes": repo_map.notes,
                    "stats": repo_map.stats,
                }
            )
        )
        return
    click.echo(repo_map.text, nl=False)
    for note in repo_map.notes:
        click.echo(f"note: {note}", err=True)
    stats = repo_map.stats
    click.echo(
        f"{len(repo_map.files)} files shown of {stats.get('files', 0):.0f}; "
        f"parsed {stats.get('parsed', 0):.0f}, "
        f"cached {stats.get('cached', 0):.0f}; {stats.get('seconds', 0):.2f}s",
        err=True,
    )
    sys.stdout.flush()
