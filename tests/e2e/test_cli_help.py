"""`qcode -h`, help texts on every option, and a `--help` that imports none of the heavy parts."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import click
import pytest

from qcode import cli
from tests.e2e.helpers import run_qcode

HELP_MODULES = """
import json, sys
sys.argv = ["qcode", "--help"]
from qcode.cli import main
try:
    main()
except SystemExit:
    pass
heavy = ("pydantic", "qcode.config", "qcode.commands", "rich", "git", "docker", "textual")
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in heavy or m.startswith(heavy))))
"""


def test_dash_h_is_help_everywhere() -> None:
    for args in (["-h"], ["fix", "-h"], ["undo", "-h"], ["sandbox", "build", "-h"]):
        done = run_qcode(*args)
        assert done.returncode == 0 and done.stdout.startswith("Usage: qcode"), (args, done.stderr)


def test_help_imports_no_heavy_module() -> None:
    done = subprocess.run([sys.executable, "-c", HELP_MODULES], capture_output=True, text=True, timeout=60)
    assert "Commands:" in done.stdout
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


@pytest.mark.parametrize("name", sorted(cli._COMMAND_MODULES))
def test_the_lazy_help_line_is_the_commands_own(name: str) -> None:
    command = importlib.import_module(f"qcode.commands.{name}").command
    assert (command.help or "").splitlines()[0] == cli._COMMAND_MODULES[name]


@pytest.mark.parametrize("path", [("demo",), ("config",), ("undo",)])
def test_json_and_repo_options_say_what_they_do(path: tuple[str, ...]) -> None:
    ctx = click.Context(cli.cli)
    command = cli.cli.get_command(ctx, path[0])
    assert command is not None
    options = {p.name: p for p in command.params if isinstance(p, click.Option)}
    for name in ("as_json", "repo"):
        if name in options:
            assert options[name].help, f"{path[0]} --{name} has no help text"
    assert options["as_json"].help
