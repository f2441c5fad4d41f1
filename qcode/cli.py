"""The `qcode` command line. It subscribes to the loop's events and reaches into nothing else."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from qcode.agent.exceptions import UserError

if TYPE_CHECKING:  # the loop's modules (and pydantic's settings) load only for the commands that run
    from rich.console import Console

    from qcode.agent.events import EventBus
    from qcode.agent.session import RunResult
    from qcode.config import Settings

__all__ = ["main"]

EXIT_OK, EXIT_UNRESOLVED, EXIT_USAGE = 0, 1, 2
EXIT_BROKEN_PIPE = 141
"""128 + SIGPIPE, what a shell reports for a writer whose reader closed the pipe."""
_STDERR: Console | None = None


def _stderr() -> Console:
    """The console for progress and messages, made on first use (Rich costs ~50 ms to import)."""
    global _STDERR
    if _STDERR is None:
        from rich.console import Console

        _STDERR = Console(stderr=True, highlight=False, soft_wrap=True)
    return _STDERR


def __getattr__(name: str) -> Any:
    """`from qcode.cli import stderr` (the front doors in qcode/commands) gets the lazy console."""
    if name == "stderr":
        return _stderr()
    raise AttributeError(name)


def escape(text: str) -> str:
    """Untrusted text made safe for Rich and the terminal (markup escaped; ESC/OSC, control and bidi
    characters and workflow-command lines neutralised), imported on first use (see `_stderr`)."""
    from qcode.agent.untrusted import for_markup

    return for_markup(text)


def _fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    _stderr().print(f"[red]qcode: {escape(message)}[/]")
    sys.exit(code)


def _settings(flags: dict[str, Any], repo: Path | None) -> Settings:
    from qcode.config import load_settings

    return load_settings(flags, repo).settings


# Front doors that live in their own modules (qcode/commands/<name>.py, each exposing `command`),
# imported only when run: `qcode fix` does not pay for Textual or tree-sitter, `qcode --help` for
# none of them. The help line of each is the first line of its command's docstring (a test checks).
_COMMAND_MODULES = {
    "bot": "Turn a labelled GitHub issue (or an `@qcode` comment) into a pull request.",
    "eval": "Resolve every task of TASKS in its own sandbox, grade it with its tests, and report.",
    "mcp": "MCP servers: yours (the user config) and those a repository proposes (run only once trusted).",
    "map": "Print the files most relevant to --focus with their key signatures, ranked.",
    "tui": "Open the interactive app: type a task, watch the plan and every tool call, follow up.",
    "undo": "Undo the last changes of a session (its workspace checkpoints), committed on its branch.",
}


class _LazyCommands(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *_COMMAND_MODULES])

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list without importing the lazy commands' modules."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            eager = super().get_command(ctx, name)
            if name in _COMMAND_MODULES:
                rows.append((name, click.utils.make_default_short_help(_COMMAND_MODULES[name], limit)))
            elif eager is not None and not eager.hidden:
                rows.append((name, eager.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in _COMMAND_MODULES:
            import importlib

            command: click.Command = importlib.import_module(f"qcode.commands.{name}").command
            return command
        return super().get_command(ctx, name)


@click.group(cls=_LazyCommands, context_settings={"help_option_names": ["-h", "--help"]})
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
@click.option(
    "--attempts",
    type=click.IntRange(1, 16),
    help="Run N attempts at once on one engine and keep the verified one (default: the setting, 1).",
)
@click.option(
    "--attempts-stop",
    type=click.Choice(["all", "first-verified"]),
    help="first-verified: stop the others once one passes the checks with a reproduction test.",
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
    attempts: int | None,
    attempts_stop: str | None,
) -> None:
    """Fix ISSUE (text, or - to read it from stdin) and commit the result on a new branch.

    `/name args` runs a custom command from .qcode/commands/ or ~/.config/qcode/commands/."""
    from qcode.agent.commands import expand_command, user_commands_dir
    from qcode.runner import new_session

    task = sys.stdin.read() if issue == "-" else issue
    if not task.strip():
        _fail("the issue text is empty; pass it as an argument or on stdin with -")
    allowed_tools = None
    if (expanded := expand_command(task, repo, user_commands_dir())) is not None:
        task, allowed_tools = expanded.prompt, expanded.allowed_tools
        _stderr().print(f"[dim]command /{expanded.command.name} ({expanded.command.source})[/]")
    settings = _settings(
        {
            "engine": engine,
            "model": model,
            "max_steps": max_steps,
            "verify_command": verify_command,
            "attempts": attempts,
            "attempts_stop": attempts_stop,
        },
        repo,
    )
    ask = not yes and sys.stdin.isatty() and not as_json
    _first_run_setup(settings)
    if settings.attempts > 1 or settings.engine.startswith("mix:"):
        _fix_attempts(settings, repo, task, patch_out, ask, allowed_tools, as_json)
    with new_session(
        settings,
        repo,
        bus=_progress_bus(),
        patch_out=patch_out,
        on_dirty=_confirm_dirty if ask else None,
        allowed_tools=allowed_tools,
    ) as session:
        result = session.run(task)
    _report(result, session.repo.root, as_json)


def _fix_attempts(
    settings: Settings,
    repo: Path,
    task: str,
    patch_out: Path | None,
    ask: bool,
    allowed_tools: list[str] | None,
    as_json: bool,
) -> NoReturn:
    """`qcode fix --attempts N`: the attempts, their selection table, then the chosen result."""
    from qcode.agent.attempts import mix_specs
    from qcode.attempts_view import fix_with_attempts, outcome_json

    specs = mix_specs(settings.engine)
    count = len(specs) if specs is not None and settings.attempts == 1 else settings.attempts
    outcome = fix_with_attempts(
        settings,
        repo,
        task,
        count,
        _stderr(),
        patch_out=patch_out,
        on_dirty=_confirm_dirty if ask else None,
        session_kwargs={"allowed_tools": allowed_tools},
    )
    if as_json:
        click.echo(json.dumps(outcome_json(outcome)))
    result = outcome.result
    if result is None:
        _stderr().print(f"[yellow]no attempt chosen: {escape(outcome.selection.reason)}[/]")
        sys.exit(EXIT_UNRESOLVED)
    _report(result, repo, as_json=False)


def _first_run_setup(settings: Settings) -> None:
    """The engine's cheap check first (no GPU: say so before minutes of building), then the sandbox
    image, built when missing with its progress shown."""
    from qcode.agent.engines import preflight
    from qcode.runner import prepare_sandbox

    preflight(settings.engine)
    prepare_sandbox(settings, log=lambda line: _stderr().print(f"[dim]{escape(line)}[/]"))


def _confirm_dirty() -> None:
    """Ask before starting on a dirty checkout; "no" is an answer, not an interruption (exit 1)."""
    if not click.confirm(
        "The repository has uncommitted changes; qcode works from HEAD and leaves them alone. Continue?",
        err=True,
    ):
        _fail(
            "nothing done (the repository has uncommitted changes; commit them or pass --yes)",
            EXIT_UNRESOLVED,
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
        _stderr().print(f"\nbranch [cyan]{result.branch}[/] · commit {result.commit} · patch {result.patch}")
        _stderr().print(f"review: git -C {repo} diff HEAD...{result.branch}")
        _stderr().print(f"merge:  git -C {repo} merge {result.branch}")
    sys.exit(EXIT_OK if result.status == "resolved" and result.commit else EXIT_UNRESOLVED)


@cli.command()
@click.option(
    "--repo",
    type=click.Path(path_type=Path),
    default=Path("."),
    show_default=True,
    help="The repository whose .qcode.toml (or [tool.qcode] in pyproject.toml) is read too.",
)
@click.option("--json", "as_json", is_flag=True, help="Print {setting: {value, source}} as JSON on stdout.")
def config(repo: Path, as_json: bool) -> None:
    """Print the effective settings and where each value came from."""
    from rich.console import Console
    from rich.table import Table

    from qcode.config import load_settings

    folder = repo if repo.is_dir() else None
    try:
        loaded, broken = load_settings({}, folder), None
    except UserError as err:  # say what is wrong, then show what the other settings are
        _stderr().print(f"[red]qcode: {escape(str(err))}[/]")
        loaded, broken = load_settings({}, folder, skip_unknown=True), err
    values = loaded.settings.model_dump(mode="json")
    values["openai_api_key"] = "********"
    from qcode.agent.engines.sampling import resolve_sampling

    sampling, from_where = resolve_sampling(loaded.settings)  # unset values show the profile's
    for key, value in sampling.model_dump().items():
        values[key] = value
        if from_where[key] != "setting":
            loaded.sources[key] = from_where[key]
    if as_json:
        click.echo(json.dumps({k: {"value": v, "source": loaded.sources[k]} for k, v in values.items()}))
        sys.exit(EXIT_USAGE if broken is not None else EXIT_OK)
    table = Table("setting", "value", "source", title="qcode config")
    for key, value in values.items():
        table.add_row(key, str(value), loaded.sources[key])
    Console().print(table)
    if broken is not None:
        sys.exit(EXIT_USAGE)


@cli.command()
@click.option("--dir", "target", type=click.Path(path_type=Path), help="Where to create the sample repo.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the result as one JSON object on stdout (as `fix --json`)."
)
def demo(target: Path | None, as_json: bool) -> None:
    """Watch qcode fix a bundled sample repo with the replay engine (no GPU needed)."""
    from qcode.demo import prepare_demo
    from qcode.runner import new_session

    repo, replay, task = prepare_demo(target)
    _stderr().print(f"sample repo: {repo}")
    _stderr().print(f"issue: {escape(task.strip())}\n")
    settings = _settings({"engine": f"replay:{replay}", "verify_command": "python -m pytest -q"}, None)
    _first_run_setup(settings)
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
    image_id = builder(client, image, log=lambda line: _stderr().print(f"[dim]{escape(line)}[/]"))
    _stderr().print(f"built {image} ({image_id[:19]})")


@sandbox.command()
def doctor() -> None:
    """Say what is missing for the sandbox, and the exact fix."""
    from qcode.sandbox.doctor import run_checks

    settings = _settings({}, None)
    checks = run_checks(settings.sandbox_image)
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True)
    for check in checks:
        mark = "[green]ok[/]  " if check.ok else "[dim]skip[/]" if check.skipped else "[red]FAIL[/]"
        console.print(f"{mark} {check.name}: {escape(check.detail)}")
    skipped = [check.name for check in checks if check.skipped]
    if skipped:
        console.print(
            f"{len(skipped)} check(s) skipped until the failure above is fixed: {', '.join(skipped)}"
        )
    sys.exit(EXIT_OK if all(check.ok for check in checks) else EXIT_USAGE)


def main() -> None:
    if len(sys.argv) == 1 and sys.stdin.isatty() and sys.stdout.isatty():
        sys.argv.append("tui")  # bare `qcode` in a terminal opens the app
    # SIGTERM (CI runners, `timeout`) unwinds like Ctrl-C, so sandboxes and workspaces are cleaned up.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        cli.main(standalone_mode=False)
    except UserError as err:
        _fail(str(err))
    except click.exceptions.Abort:  # click turns Ctrl-C (and SIGTERM, raised as it) into Abort
        _fail("interrupted; the sandbox was removed", 130)
    except click.ClickException as err:
        err.show()
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:
        _fail("interrupted; the sandbox was removed", 130)
    except BrokenPipeError:
        # The reader went away (`qcode fix … | head`); the session was cleaned up on the way out.
        # Nothing more can be said: point the standard streams at /dev/null so exit stays quiet.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.dup2(devnull, sys.stderr.fileno())
        sys.exit(EXIT_BROKEN_PIPE)
    except SystemExit:
        raise
