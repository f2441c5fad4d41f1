"""`qcode engine`: the warm engine process that `qcode fix` and `qcode tui` share."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click
from rich.console import Console

from qcode.agent.untrusted import for_markup as escape
from qcode.config import load_settings

__all__ = ["command"]

_MODEL_FLAG = click.option("--model", help="Model name or local folder (default: the model setting).")


@click.group()
def command() -> None:
    """The warm engine: one model load shared by every session (start, stop, status, logs)."""


def _settings(model: str | None = None) -> Any:
    return load_settings({"model": model}).settings


def _err() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


@command.command()
@_MODEL_FLAG
def start(model: str | None) -> None:
    """Load the model into the warm engine now (it stays up `engine_keep_alive` minutes after use)."""
    from qcode.agent.engines.accelerator import require_accelerator
    from qcode.agent.engines.warm import ensure_engine

    require_accelerator()
    settings = _settings(model)
    began = time.monotonic()
    status, started = ensure_engine(settings)
    what = f"started in {time.monotonic() - began:.0f} s" if started else "already running"
    _err().print(f"warm engine {what}: pid {status['pid']}, {escape(str(status['model']))}")


@command.command()
def stop() -> None:
    """Stop the warm engine; a session using it ends its run with a one-line reason."""
    from qcode.agent.engines.warm import stop_engine

    status = stop_engine(_settings())
    _err().print(f"stopped the warm engine (pid {status['pid']})" if status else "no warm engine was running")


@command.command()
@click.option("--json", "as_json", is_flag=True, help='Print {"engines": [...]} as JSON on stdout.')
def status(as_json: bool) -> None:
    """Model, memory, pid, uptime, idle time left, sessions, requests, tokens, cache hits, aborts."""
    from qcode.agent.engines.warm import engine_status

    engines = engine_status(_settings())
    if as_json:
        click.echo(json.dumps({"engines": engines}))
        return
    if not engines:
        _err().print("no warm engine is running (`qcode fix` or `qcode engine start` starts one)")
        return
    console = Console(highlight=False, soft_wrap=True)
    for engine in engines:
        for key, value in engine.items():
            if key != "key":
                console.print(f"{key:>22}  {escape(str(value))}")


@command.command()
@click.option("--lines", "-n", type=click.IntRange(1, 10_000), default=200, show_default=True)
def logs(lines: int) -> None:
    """Print the end of the warm engine's log (vLLM's output; capped and rotated)."""
    from qcode.agent.engines.warm import engine_paths
    from qcode.agent.engines.warm.logs import tail

    paths = engine_paths(_settings().state_dir)
    text = tail(paths.log, lines)
    if not text:
        _err().print(f"no engine log yet ({paths.log})")
        sys.exit(1)
    click.echo(text)
