"""The lint tier: output parsing (pure) and commands run in a real Docker sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from qcode.agent.contracts import Observation, ToolCall
from qcode.sandbox.container import DockerSandbox, SandboxSettings
from qcode.tools.builtin import default_registry
from qcode.tools.checks import ChangeChecker, DiagnosticsConfig
from qcode.tools.diagnostics import Problem
from qcode.tools.lint import DEFAULT_LINT_COMMANDS, command_for, parse_lint_output
from qcode.tools.registry import ToolContext

from tests.sandbox.conftest import client, settings  # noqa: F401 - fixtures

# ---------------------------------------------------------------- parsing (pure)


def test_parses_colon_and_tsc_formats_about_the_file_only() -> None:
    output = "\n".join(
        [
            "src/a.py:3: '(' was never closed",
            "./src/a.py:7:5: F401 [*] `os` imported but unused",
            "src/a.ts(12,3): error TS2304: Cannot find name 'x'.",
            "src/other.py:1: not ours",
            "# pkg",
            "garbage without a line",
        ]
    )
    assert parse_lint_output(output, "src/a.py", "*.py") == [
        Problem(3, "'(' was never closed", "*.py"),
        Problem(7, "F401 [*] `os` imported but unused", "*.py"),
    ]
    assert parse_lint_output(output, "src/a.ts") == [
        Problem(12, "error TS2304: Cannot find name 'x'.", "lint")
    ]


def test_endless_output_is_capped() -> None:
    assert len(parse_lint_output("a.py:1: x\n" * 100_000, "a.py")) == 50


def test_patterns_pick_a_command_and_an_empty_one_turns_a_default_off() -> None:
    config = DiagnosticsConfig(lint_commands={"src/*.py": "mylint {file}", "*.go": ""})
    commands = config.commands()
    assert command_for("src/a.py", commands) == ("src/*.py", "mylint {file}")
    assert command_for("lib/a.py", commands) == ("*.py", DEFAULT_LINT_COMMANDS["*.py"])
    assert command_for("main.go", commands) is None
    assert command_for("README.md", commands) is None


def test_unbounded_config_is_refused() -> None:
    with pytest.raises(ValueError, match="at most 32"):
        DiagnosticsConfig(lint_commands={f"*.{n}": "x" for n in range(33)})


# ---------------------------------------------------------------- in the sandbox


@pytest.fixture
def box(client: docker.DockerClient, settings: SandboxSettings, tmp_path: Path) -> Iterator[DockerSandbox]:  # noqa: F811
    root = tmp_path / "ws"
    root.mkdir()
    (root / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (root / "old.py").write_text("def old(:\n    pass\n")
    with DockerSandbox(root, settings, f"pytest-lint-{tmp_path.name[-12:]}", client=client) as sandbox:
        yield sandbox


def _call(ctx: ToolContext, tool: str, **arguments: object) -> Observation:
    return default_registry().dispatch(ToolCall(id="c", name=tool, arguments=arguments), ctx)


def _ctx(box: DockerSandbox, **config: object) -> ToolContext:
    checker = ChangeChecker(DiagnosticsConfig(mode="lint", **config))  # type: ignore[arg-type]
    # guard: host-side work freezes the sandbox, as in a session (a lint run must not be frozen)
    return ToolContext(
        workspace=box.workspace, sandbox=box, diff=lambda _p: "", checker=checker, guard=box.paused
    )


@pytest.mark.docker
def test_default_python_check_runs_in_the_sandbox_and_reports_only_new_problems(box: DockerSandbox) -> None:
    ctx = _ctx(box)
    box.exec("cd /tmp")  # the model's shell is somewhere else: the lint must not move it
    obs = _call(ctx, "edit_file", path="calc.py", old_text="return a + b", new_text="return (a + b")
    assert not obs.ok
    linted = [p for p in obs.data["diagnostics"] if p["source"] == "*.py"]
    assert linted and linted[0]["line"] == 2 and "never closed" in linted[0]["message"]
    assert box.exec("pwd").output.strip() == "/tmp"
    assert not (box.workspace / "__pycache__").exists()  # the compile check writes no .pyc
    assert _call(ctx, "edit_file", path="old.py", old_text="pass", new_text="return 1").ok  # already broken


@pytest.mark.docker
def test_a_repository_lint_command_that_hangs_is_cut_off(box: DockerSandbox) -> None:
    ctx = _ctx(box, lint_commands={"*.py": "sleep 600; echo {file}:1: never"}, lint_timeout=2)
    obs = _call(ctx, "edit_file", path="calc.py", old_text="a + b", new_text="b + a")
    assert obs.ok and "took longer than 2s; skipped" in obs.text
    assert box.exec("echo alive").output.strip() == "alive"  # the model's shell survived


@pytest.mark.docker
def test_a_lint_command_only_sees_the_sandbox(box: DockerSandbox) -> None:
    # A hostile repository's command: it runs, but in the container, which has no host files.
    host_only = Path(__file__).parent
    command = f"echo {{file}}:1: ran in $(test -e {host_only} && echo HOST || echo SANDBOX)"
    obs = _call(_ctx(box, lint_commands={"*.py": command}), "write_file", path="n.py", content="x = 1\n")
    assert "n.py:1: ran in SANDBOX [*.py]" in obs.text
    assert obs.ok  # lint problems are reported, but only a syntax break marks the step failed


@pytest.mark.docker
def test_a_failing_linter_does_not_kill_a_shell_the_model_set_e_in(box: DockerSandbox) -> None:
    box.exec("set -e; cd /tmp")
    ctx = _ctx(box, lint_commands={"*.py": "echo {file}:1: bad; exit 3"})
    obs = _call(ctx, "write_file", path="n.py", content="x = 1\n")
    assert "n.py:1: bad [*.py]" in obs.text
    after = box.exec("pwd")
    assert after.output.strip() == "/tmp" and not after.shell_restarted
