"""Hooks as real processes: timeouts kill the whole group, output is bounded, matchers are exact."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
from qcode.agent.contracts import Observation, ToolCall
from qcode.agent.exceptions import UserError
from qcode.agent.hooks import (
    MAX_STOP_REFUSALS,
    OUTPUT_LIMIT,
    HookedRegistry,
    Hooks,
    HookSpec,
    load_hooks,
    run_hook,
)
from qcode.tools.builtin import FINISH, default_registry
from qcode.tools.registry import ToolContext

from tests.polling import wait_until

PY = sys.executable


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_a_hook_past_its_timeout_is_killed_with_its_children(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    script = f"sleep 300 & echo $! > {pidfile}; sleep 300"
    started = time.monotonic()
    result = run_hook(HookSpec(command=script, timeout=1), {"event": "pre_tool"}, tmp_path)
    assert result.timed_out and result.exit_code is None
    assert time.monotonic() - started < 30
    child = int(pidfile.read_text())
    wait_until(lambda: not _alive(child), 10, "the hook's background child to die")


def test_hook_output_is_bounded_and_stdin_need_not_be_read(tmp_path: Path) -> None:
    command = f"{PY} -c \"import sys; sys.stdout.write('x' * 5_000_000); sys.stderr.write('y' * 5_000_000)\""
    result = run_hook(HookSpec(command=command), {"event": "post_tool", "big": "z" * 1_000_000}, tmp_path)
    assert result.exit_code == 0
    assert len(result.stdout) == OUTPUT_LIMIT and len(result.stderr) == OUTPUT_LIMIT


def test_matchers_match_whole_tool_names() -> None:
    assert HookSpec(command="x", matcher="shell").matches("shell")
    assert not HookSpec(command="x", matcher="shell").matches("shell_extra")
    assert HookSpec(command="x", matcher="mcp__.*").matches("mcp__wiki__lookup")
    assert HookSpec(command="x").matches("anything")


def test_bad_hook_config_is_a_clear_error() -> None:
    with pytest.raises(UserError, match="hooks.pre_tool.0.matcher"):
        load_hooks({"hooks": {"pre_tool": [{"command": "x", "matcher": "("}]}}, "config.toml")
    with pytest.raises(UserError, match="hooks.on_save"):
        load_hooks({"hooks": {"on_save": []}}, "config.toml")


def test_a_stop_hook_refuses_at_most_three_times_a_run(tmp_path: Path) -> None:
    config = load_hooks({"hooks": {"stop": [{"command": "echo not yet >&2; exit 2"}]}}, "c")
    notices: list[str] = []
    hooks = Hooks(config, tmp_path, {}, notices.append)
    registry = HookedRegistry(default_registry().tools(), hooks)
    ctx = ToolContext(workspace=tmp_path, sandbox=None, diff=lambda _: "")  # type: ignore[arg-type]
    finish = ToolCall(id="f", name=FINISH, arguments={"summary": "done"})
    answers: list[Observation] = [registry.dispatch(finish, ctx) for _ in range(MAX_STOP_REFUSALS + 1)]
    assert [a.ok for a in answers] == [False] * MAX_STOP_REFUSALS + [True]
    assert "not yet" in answers[0].text and notices == []


def test_a_failing_or_slow_pre_tool_hook_is_a_notice_not_a_block(tmp_path: Path) -> None:
    config = load_hooks(
        {"hooks": {"pre_tool": [{"command": "exit 1"}, {"command": "sleep 5", "timeout": 0.5}]}}, "c"
    )
    notices: list[str] = []
    hooks = Hooks(config, tmp_path, {}, notices.append)
    assert hooks.pre_tool(ToolCall(id="1", name="read_file", arguments={"path": "x"})) is None
    assert "exited 1" in notices[0] and "timed out" in notices[1]
