"""The `qcode` command line. It subscribes to the loop's events and reaches into nothing else."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from qcode.agent.exceptions import GitError, UserError

if TYPE_CHECKING:  # the loop's modules (and pydantic's settings) load only for the commands that run
    from rich.console import Console

    from qcode.agent.events import EventBus
    from qcode.agent.policy import ApprovalMode
    from qcode.agent.session import RunResult
    from qcode.config import Settings
    from qcode.images import VisionEngine
    from qcode.stream_json import StreamJsonWriter

__all__ = ["main"]

EXIT_OK, EXIT_UNRESOLVED, EXIT_USAGE, EXIT_GIT = 0, 1, 2, 3
"""EXIT_GIT: host-side git failed under qcode (not bad input: the checkout was valid when it began)."""
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
    "acp": "Run as an Agent Client Protocol agent on stdio, for editors (Zed's agent_servers).",
    "bot": "Turn a labelled GitHub issue (or an `@qcode` comment) into a pull request.",
    "engine": "The warm engine: one model load shared by every session (start, stop, status, logs).",
    "eval": "Resolve every task of TASKS in its own sandbox, grade it with its tests, and report.",
    "mcp": "MCP servers: yours (the user config) and those a repository proposes (run only once trusted).",
    "map": "Print the files most relevant to --focus with their key signatures, ranked.",
    "tui": "Open the interactive app: type a task, watch the plan and every tool call, follow up.",
    "undo": "Undo the last changes of a session (its workspace checkpoints), committed on its branch.",
}


def _short_help(text: str, limit: int) -> str:
    """The first sentence, cut at a word to fit `limit` (as click shows an eager command's help)."""
    first = text.split(". ", 1)[0].rstrip(".")
    if len(first) <= limit:
        return first
    return first[: max(0, limit - 3)].rsplit(" ", 1)[0] + "..."


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
                rows.append((name, _short_help(_COMMAND_MODULES[name], limit)))
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
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
    help="What goes to the session folder's qcode.log (default: QCODE_LOG, else info).",
)
def cli(log_level: str | None) -> None:
    """qcode: a local agentic coding assistant. Every command the model runs stays in a Docker sandbox."""
    from qcode.agent.logs import configure, resolve_level

    configure(resolve_level(log_level))


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
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object on stdout (= --output-format json)."
)
@click.option(
    "--output-format",
    type=click.Choice(["text", "json", "stream-json"]),
    default="text",
    show_default=True,
    help="stdout: nothing (text), one JSON object (json), or one JSON event per line as it happens "
    "(stream-json, ending with the json object as a `result` line).",
)
@click.option(
    "--image",
    "images",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Attach a screenshot (PNG, JPEG, WebP or GIF; repeatable, at most 5 of 10 MB). openai engine.",
)
@click.option(
    "--yes", is_flag=True, help="Do not ask before starting on a repository with uncommitted changes."
)
@click.option(
    "--approval",
    type=click.Choice(["ask", "auto-edit", "yolo"]),
    default="yolo",
    show_default=True,
    help="Ask at the terminal before file changes and unsafe commands (ask), only unsafe commands "
    "(auto-edit), or never (yolo).",
)
@click.option("--no-daemon", is_flag=True, help="Load the model in this process, not in the warm engine.")
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
    output_format: str,
    images: tuple[Path, ...],
    yes: bool,
    approval: ApprovalMode,
    no_daemon: bool,
    attempts: int | None,
    attempts_stop: str | None,
) -> None:
    """Fix ISSUE (text, or - to read it from stdin) and commit the result on a new branch.

    `/name args` runs a custom command from .qcode/commands/ or ~/.config/qcode/commands/."""
    from qcode.agent.commands import expand_command, user_commands_dir
    from qcode.approver import TerminalApprover, require_terminal
    from qcode.runner import new_session

    require_terminal(approval, issue != "-" and sys.stdin.isatty())
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
            "engine_daemon": False if no_daemon else None,
            "attempts": attempts,
            "attempts_stop": attempts_stop,
        },
        repo,
    )
    output = "json" if as_json else output_format
    ask = not yes and sys.stdin.isatty() and output == "text"
    with_attempts = settings.attempts > 1 or settings.engine.startswith("mix:")
    if with_attempts:
        _refuse_with_attempts(output, images, approval)
    if images:
        from qcode.images import check_images

        check_images(settings, images)  # every file, and the engine, before any work starts
    _first_run_setup(settings)
    if with_attempts:
        _fix_attempts(settings, repo, task, patch_out, ask, allowed_tools, output == "json")
    bus, stream = _output_bus(output)
    vision = _vision_engine(settings) if images else None
    try:
        with new_session(
            settings,
            repo,
            bus=bus,
            engine=vision,
            patch_out=patch_out,
            on_dirty=_confirm_dirty if ask else None,
            allowed_tools=allowed_tools,
            approver=None if approval == "yolo" else TerminalApprover(approval, _prompt, _say),
            warm_engine=True,
        ) as session:
            if vision is not None:
                vision.open_store(session.folder).attach(images)
            result = session.run(task)
    finally:
        if vision is not None:
            vision.close()
    if stream is not None:
        stream.result(result)
    _report(result, session.repo.root, output == "json")


def _vision_engine(settings: Settings) -> VisionEngine:
    from qcode.agent.engines import make_engine
    from qcode.images import VisionEngine

    return VisionEngine(make_engine(settings.engine, settings, warm=True))


def _output_bus(output: str) -> tuple[EventBus, StreamJsonWriter | None]:
    """The progress bus, with stream-json's writer on stdout when asked for."""
    bus = _progress_bus()
    if output != "stream-json":
        return bus, None
    from qcode.stream_json import StreamJsonWriter

    stream = StreamJsonWriter()
    bus.subscribe(stream)
    return bus, stream


def _say(text: str) -> None:
    _stderr().print(escape(text))


def _prompt(text: str) -> str:
    return str(click.prompt(text, default="n", show_default=False, err=True))


def _refuse_with_attempts(output: str, images: tuple[Path, ...], approval: ApprovalMode) -> None:
    """What attempts do not take yet, refused before any work starts."""
    if output == "stream-json":
        _fail("--attempts does not stream yet; use --output-format json (or text)")
    if images:
        _fail("--attempts does not take --image yet; run a single attempt with the image")
    if approval != "yolo":
        _fail(f"--attempts runs its attempts at once and cannot ask; drop --approval {approval}")


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
    from qcode.attempts_view import fix_with_attempts, outcome_json

    outcome = fix_with_attempts(
        settings,
        repo,
        task,
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


def _report(result: RunResult, repo: Path, as_json: bool) -> NoReturn:
    if as_json:
        from qcode.stream_json import result_payload

        click.echo(json.dumps(result_payload(result), indent=None))
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
        cli.main(prog_name="qcode", standalone_mode=False)  # also under `python -m qcode`
    except UserError as err:
        _fail(str(err))
    except GitError as err:
        _fail(str(err), EXIT_GIT)
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
