"""The `qcode` command line. It subscribes to the loop's events and reaches into nothing else."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click
from rich.console import Console
from rich.table import Table

from qcode.agent.exceptions import UserError
from qcode.agent.untrusted import for_markup
from qcode.config import Settings, load_settings

if TYPE_CHECKING:  # the loop's modules load only for the commands that run it
    from qcode.agent.events import EventBus
    from qcode.agent.session import RunResult

__all__ = ["main"]

EXIT_OK, EXIT_UNRESOLVED, EXIT_USAGE = 0, 1, 2
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def _fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    stderr.print(f"[red]qcode: {for_markup(message)}[/]")
    sys.exit(code)


def _settings(flags: dict[str, Any], repo: Path | None) -> Settings:
    return load_settings(flags, repo).settings


# Front doors that live in their own modules (qcode/commands/<name>.py, each exposing `command`),
# imported only when run: `qcode fix` does not pay for Textual or tree-sitter.
_COMMAND_MODULES = ("map", "bot", "eval", "tui", "undo")


class _LazyCommands(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *_COMMAND_MODULES])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in _COMMAND_MODULES:
            import importlib

            command: click.Command = importlib.import_module(f"qcode.commands.{name}").command
            return command
        return super().get_command(ctx, name)


@click.group(cls=_LazyCommands)
@click.version_option(package_name="qcode")
def cli() -> None:
    """qcode: a local agentic coding assistant. Every command the model runs stays in a Docker sandbox."""


@cli.command()
@click.argument("issue")
@click.option(
    "--repo",
    type=click.Path(path_type=Path),
    default=Path("."),
    show_default=True,
    help="The git repository to work on.",
)
@click.option("--engine", help="vllm, openai or replay:FILE.")
@click.option("--model", help="Model name or local folder.")
@click.option("--max-steps", type=int, help="Model calls, the planner's included.")
@click.option("--verify", "verify_command", help="Command run in the sandbox after finish, e.g. 'pytest -q'.")
@click.option("--patch-out", type=click.Path(path_type=Path), help="Also write the patch here.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option(
    "--yes", is_flag=True, help="Do not ask before starting on a repository with uncommitted changes."
)
def fix(
    issue: str,
    repo: Path,
    engine: str | None,
    model: str | None,
    max_steps: int | None,
    verify_command: str | None,
    patch_out: Path | None,
    as_json: bool,
    yes: bool,
) -> None:
    """Fix ISSUE (text, or - to read it from stdin) and commit the result on a new branch."""
    from qcode.runner import new_session

    task = sys.stdin.read() if issue == "-" else issue
    if not task.strip():
        _fail("the issue text is empty; pass it as an argument or on stdin with -")
    settings = _settings(
        {"engine": engine, "model": model, "max_steps": max_steps, "verify_command": verify_command}, repo
    )
    ask = not yes and sys.stdin.isatty() and not as_json
    with new_session(
        settings, repo, bus=_progress_bus(), patch_out=patch_out, on_dirty=_confirm_dirty if ask else None
    ) as session:
        result = session.run(task)
    _report(result, session.repo.root, as_json)


def _confirm_dirty() -> None:
    click.confirm(
        "The repository has uncommitted changes; qcode works from HEAD and leaves them alone. Continue?",
        abort=True,
        err=True,
    )


def _progress_bus() -> EventBus:
    """Events → the Rich progress view on stderr."""
    from qcode.agent.events import EventBus
    from qcode.progress import ProgressPrinter

    bus = EventBus()
    bus.subscribe(ProgressPrinter())
    return bus


def _report(result: RunResult, repo: Path, as_json: bool) -> None:
    if as_json:
        payload = result.model_dump(
            include={
                "status",
                "reason",
                "branch",
                "commit",
                "patch",
                "steps",
                "usage",
                "trajectory",
                "session_id",
                "summary",
                "verify",
            }
        )
        click.echo(json.dumps(payload, indent=None))
    if result.branch:
        stderr.print(f"\nbranch [cyan]{result.branch}[/] · commit {result.commit} · patch {result.patch}")
        stderr.print(f"review: git -C {repo} diff HEAD...{result.branch}")
        stderr.print(f"merge:  git -C {repo} merge {result.branch}")
    sys.exit(EXIT_OK if result.status == "resolved" and result.commit else EXIT_UNRESOLVED)


@cli.command()
@click.option("--repo", type=click.Path(path_type=Path), default=Path("."), show_default=True)
@click.option("--json", "as_json", is_flag=True)
def config(repo: Path, as_json: bool) -> None:
    """Print the effective settings and where each value came from."""
    loaded = load_settings({}, repo if repo.is_dir() else None)
    values = loaded.settings.model_dump(mode="json")
    values["openai_api_key"] = "********"
    if as_json:
        click.echo(json.dumps({k: {"value": v, "source": loaded.sources[k]} for k, v in values.items()}))
        return
    table = Table("setting", "value", "source", title="qcode config")
    for key, value in values.items():
        table.add_row(key, str(value), loaded.sources[key])
    Console().print(table)


@cli.command()
@click.option("--dir", "target", type=click.Path(path_type=Path), help="Where to create the sample repo.")
@click.option("--json", "as_json", is_flag=True)
def demo(target: Path | None, as_json: bool) -> None:
    """Watch qcode fix a bundled sample repo with the replay engine (no GPU needed)."""
    from qcode.demo import prepare_demo
    from qcode.runner import new_session

    repo, replay, task = prepare_demo(target)
    stderr.print(f"sample repo: {repo}")
    settings = _settings({"engine": f"replay:{replay}", "verify_command": "python -m pytest -q"}, None)
    with new_session(settings, repo, bus=_progress_bus()) as session:
        result = session.run(task)
    _report(result, repo, as_json)


@cli.group()
def sandbox() -> None:
    """Build and check the Docker sandbox."""


@sandbox.command()
@click.option("--offline", is_flag=True, help="Build from Debian packages with debootstrap (no registry).")
@click.option("--tag", help="Image name; default: the sandbox_image setting.")
def build(offline: bool, tag: str | None) -> None:
    """Build the sandbox image."""
    from qcode.sandbox.container import docker_client
    from qcode.sandbox.image import build_from_dockerfile, build_offline

    image = tag or _settings({}, None).sandbox_image
    client = docker_client()
    builder = build_offline if offline else build_from_dockerfile
    image_id = builder(client, image, log=lambda line: stderr.print(f"[dim]{line}[/]"))
    stderr.print(f"built {image} ({image_id[:19]})")


@sandbox.command()
def doctor() -> None:
    """Say what is missing for the sandbox, and the exact fix."""
    from qcode.sandbox.doctor import run_checks

    settings = _settings({}, None)
    failures = 0
    for check in run_checks(settings.sandbox_image):
        mark = "[green]ok[/]  " if check.ok else "[red]FAIL[/]"
        Console().print(f"{mark} {check.name}: {check.detail}")
        failures += not check.ok
    sys.exit(EXIT_USAGE if failures else EXIT_OK)


def main() -> None:
    if len(sys.argv) == 1 and sys.stdin.isatty() and sys.stdout.isatty():
        sys.argv.append("tui")  # bare `qcode` in a terminal opens the app
    # SIGTERM (CI runners, `timeout`) unwinds like Ctrl-C, so sandboxes and workspaces are cleaned up.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        cli.main(standalone_mode=False)
    except UserError as err:
        _fail(str(err))
    except click.exceptions.Abort:
        _fail("aborted", 130)
    except click.ClickException as err:
        err.show()
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:
        _fail("interrupted; the sandbox was removed", 130)
    except SystemExit:
        raise
