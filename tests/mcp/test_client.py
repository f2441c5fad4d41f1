"""MCP servers as tools, against the real test server (stdio and streamable HTTP): no Docker needed."""

from __future__ import annotations

import os
import re
import signal
import sys
from pathlib import Path

import pytest
from qcode.agent.contracts import Observation, ToolCall
from qcode.tools.mcp.adapter import tool_name
from qcode.tools.mcp.config import ServerSpec
from qcode.tools.mcp.manager import McpManager
from qcode.tools.registry import ToolContext, ToolRegistry

from tests.mcp.conftest import SERVER, stdio_entry


class Notices(list[tuple[str, str]]):
    def __call__(self, level: str, text: str) -> None:
        self.append((level, text))


def _ctx(tmp_path: Path) -> ToolContext:
    return ToolContext(workspace=tmp_path, sandbox=None, diff=lambda _: "")  # type: ignore[arg-type]


def _call(registry: ToolRegistry, tmp_path: Path, name: str, **arguments: object) -> Observation:
    return registry.dispatch(ToolCall(id="c1", name=name, arguments=arguments), _ctx(tmp_path))


@pytest.fixture
def notices() -> Notices:
    return Notices()


@pytest.mark.slow
def test_stdio_server_tools_join_the_registry_and_answer(tmp_path: Path, notices: Notices) -> None:
    manager = McpManager({"wiki": (ServerSpec.model_validate(stdio_entry()), True)}, notices)
    try:
        tools = {tool.name: tool for tool in manager.start()}
        assert set(tools) == {
            "mcp__wiki__lookup",
            "mcp__wiki__add",
            "mcp__wiki__secret_env",
            "mcp__wiki__shout",
            "mcp__wiki__sleepy",
        }
        assert tools["mcp__wiki__lookup"].read_only and not tools["mcp__wiki__add"].read_only
        schema = tools["mcp__wiki__add"].schema()["function"]["parameters"]
        assert schema["required"] == ["a", "b"] and schema["properties"]["a"]["type"] == "integer"
        registry = ToolRegistry(tools.values())
        assert _call(registry, tmp_path, "mcp__wiki__add", a=2, b=3).text == "5"
        bad = _call(registry, tmp_path, "mcp__wiki__add", a="two")
        assert not bad.ok and "Invalid arguments" in bad.text and "'b' is a required property" in bad.text
    finally:
        manager.close()


@pytest.mark.slow
def test_http_server_tool_is_called(http_server: str, tmp_path: Path, notices: Notices) -> None:
    manager = McpManager({"remote": (ServerSpec(url=http_server), True)}, notices)
    try:
        registry = ToolRegistry(manager.start())
        seen = _call(registry, tmp_path, "mcp__remote__lookup", key="colour")
        assert seen.ok and seen.text.startswith("wiki says colour = 42")
        assert seen.data["mcp_server"] == "remote"
    finally:
        manager.close()


@pytest.mark.slow
def test_a_killed_server_is_an_observation_then_restarts(tmp_path: Path, notices: Notices) -> None:
    manager = McpManager({"wiki": (ServerSpec.model_validate(stdio_entry()), True)}, notices)
    try:
        registry = ToolRegistry(manager.start())
        first = _call(registry, tmp_path, "mcp__wiki__lookup", key="a")
        pid = int(re.search(r"pid (\d+)", first.text).group(1))  # type: ignore[union-attr]
        os.kill(pid, signal.SIGKILL)
        broken = _call(registry, tmp_path, "mcp__wiki__lookup", key="b")
        assert not broken.ok and "MCP server `wiki` failed" in broken.text and "restarted" in broken.text
        again = _call(registry, tmp_path, "mcp__wiki__lookup", key="c")
        assert again.ok and f"pid {pid})" not in again.text
        assert manager.connections["wiki"].starts == 2
    finally:
        manager.close()


@pytest.mark.slow
def test_servers_that_cannot_start_or_hang_are_notices(tmp_path: Path, notices: Notices) -> None:
    servers = {
        "missing": (ServerSpec(command=str(tmp_path / "no-such-server")), True),
        "silent": (
            ServerSpec(command=sys.executable, args=["-c", "import time; time.sleep(60)"], startup_timeout=1),
            True,
        ),
        "unset": (ServerSpec(command=sys.executable, env={"T": "${QCODE_TEST_UNSET_VAR}"}), True),
    }
    manager = McpManager(servers, notices)
    try:
        assert manager.start() == []
    finally:
        manager.close()
    texts = "\n".join(text for level, text in notices if level == "warning")
    assert "`missing` failed to start" in texts
    assert "`silent` failed to start: no answer within 1s" in texts
    assert "QCODE_TEST_UNSET_VAR" in texts


@pytest.mark.slow
def test_user_secrets_expand_but_never_reach_the_model_and_a_proposal_stays_literal(
    tmp_path: Path, notices: Notices, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QCODE_TEST_SECRET", "s3cret-value")
    log = tmp_path / "calls.log"
    env = {"MCP_TEST_TOKEN": "${QCODE_TEST_SECRET}", "MCP_TEST_LOG": str(log)}
    spec = ServerSpec.model_validate(stdio_entry(env=env))
    leaky = ServerSpec(
        command=sys.executable,
        args=[
            "-c",
            "import os, sys; print('\\x1b[31mkey is', os.environ['T'], file=sys.stderr); sys.exit(1)",
        ],
        env={"T": "${QCODE_TEST_SECRET}"},
    )
    manager = McpManager({"mine": (spec, True), "theirs": (spec, False), "leaky": (leaky, True)}, notices)
    try:
        registry = ToolRegistry(manager.start())
        assert _call(registry, tmp_path, "mcp__mine__secret_env").text == "token=***"
        assert _call(registry, tmp_path, "mcp__theirs__secret_env").text == "token=${QCODE_TEST_SECRET}"
    finally:
        manager.close()
    assert log.read_text().splitlines()[0] == "token s3cret-value"  # the server did get it
    leak = next(text for level, text in notices if "`leaky` failed to start" in text)
    assert "?[31mkey is ***" in leak and "s3cret-value" not in leak and "\x1b" not in leak


@pytest.mark.slow
def test_long_results_are_capped(tmp_path: Path, notices: Notices) -> None:
    manager = McpManager(
        {"wiki": (ServerSpec.model_validate(stdio_entry()), True)}, notices, output_limit=2000
    )
    try:
        registry = ToolRegistry(manager.start())
        seen = _call(registry, tmp_path, "mcp__wiki__shout", text="ab")
        assert len(seen.text) < 2100 and "characters cut" in seen.text
    finally:
        manager.close()


def test_names_are_cleaned_for_the_model_and_terminal() -> None:
    assert tool_name("my server", "rm -rf /\x1b[31m") == "mcp__my_server__rm_-rf_31m"
    assert len(tool_name("s" * 100, "t" * 100)) <= 64


@pytest.mark.slow
def test_a_changed_tool_list_is_a_notice_and_the_session_keeps_its_tools(
    tmp_path: Path, notices: Notices
) -> None:
    flag = tmp_path / "extra"
    spec = ServerSpec.model_validate(stdio_entry(env={"MCP_TEST_EXTRA": str(flag)}))
    manager = McpManager({"wiki": (spec, True)}, notices)
    try:
        registry = ToolRegistry(manager.start())
        flag.touch()  # the restarted server will list one more tool
        pid = int(
            re.search(r"pid (\d+)", _call(registry, tmp_path, "mcp__wiki__lookup", key="a").text).group(1)
        )  # type: ignore[union-attr]
        os.kill(pid, signal.SIGKILL)
        assert not _call(registry, tmp_path, "mcp__wiki__lookup", key="b").ok
        assert _call(registry, tmp_path, "mcp__wiki__lookup", key="c").ok
        assert (
            "info",
            "MCP server `wiki` changed its tools; the change takes effect next session",
        ) in notices
        assert "mcp__wiki__extra" not in registry.names
    finally:
        manager.close()


@pytest.mark.slow
def test_host_servers_start_in_the_repository(tmp_path: Path, notices: Notices) -> None:
    (tmp_path / "srv.py").write_text(Path(SERVER).read_text())
    spec = ServerSpec(command=sys.executable, args=["srv.py", "stdio"])  # relative, as .mcp.json often is
    manager = McpManager({"rel": (spec, False)}, notices, cwd=tmp_path)
    try:
        assert any(tool.name == "mcp__rel__lookup" for tool in manager.start()), notices
    finally:
        manager.close()


@pytest.mark.slow
def test_a_call_past_its_timeout_is_an_observation_and_a_notice_then_restarts(
    tmp_path: Path, notices: Notices
) -> None:
    spec = ServerSpec.model_validate(stdio_entry(timeout=1))
    manager = McpManager({"wiki": (spec, True)}, notices)
    try:
        registry = ToolRegistry(manager.start())
        slow = _call(registry, tmp_path, "mcp__wiki__sleepy", seconds=30)
        assert not slow.ok and "MCP server `wiki` failed during `sleepy`" in slow.text
        assert any(level == "warning" and "failed during `sleepy`" in text for level, text in notices)
        assert _call(registry, tmp_path, "mcp__wiki__sleepy", seconds=0).ok
        assert manager.connections["wiki"].starts == 2
    finally:
        manager.close()
