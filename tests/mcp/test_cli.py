"""`qcode mcp …` through the real command: config edits keep comments, test starts the real server."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.e2e.helpers import run_qcode
from tests.mcp.conftest import SERVER


@pytest.mark.slow
def test_add_list_test_remove_keep_the_users_comments(tmp_path: Path, isolated_state: Path) -> None:
    config = isolated_state.parent / "user-config.toml"
    config.write_text("# my settings, commented\nmax_steps = 9\n")
    added = run_qcode("mcp", "add", "wiki", "--", sys.executable, str(SERVER), "stdio")
    assert added.returncode == 0, added.stderr
    web = run_qcode(
        "mcp", "add", "web", "--url", "http://127.0.0.1:9/mcp", "--header", "Authorization=Bearer ${T}"
    )
    assert web.returncode == 0, web.stderr
    assert config.read_text().startswith("# my settings, commented\nmax_steps = 9\n")
    rows = json.loads(run_qcode("mcp", "list", "--repo", str(tmp_path), "--json").stdout)
    assert [(r["name"], r["source"]) for r in rows] == [("wiki", "user"), ("web", "user")]
    assert "Bearer" not in rows[1]["runs"] and "Authorization" in rows[1]["runs"]  # names, never values

    tested = run_qcode("mcp", "test", "wiki", "--repo", str(tmp_path))
    assert tested.returncode == 0, tested.stderr
    assert "mcp__wiki__lookup  (read-only)" in tested.stdout and "mcp__wiki__add  (asks)" in tested.stdout
    unset = run_qcode("mcp", "test", "web", "--repo", str(tmp_path))
    assert unset.returncode == 1 and "names 'T' which is not set in your environment" in unset.stdout
    unreachable = run_qcode("mcp", "test", "web", "--repo", str(tmp_path), env={"T": "tok"})
    assert unreachable.returncode == 1 and "`web` failed to start" in unreachable.stdout

    assert run_qcode("mcp", "remove", "web").returncode == 0
    assert "web" not in config.read_text() and "# my settings, commented" in config.read_text()


@pytest.mark.slow
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    cases = [
        (("mcp", "add", "bad name", "--", "x"), "letters, digits"),
        (("mcp", "add", "x"), "set exactly one of `command`"),
        (("mcp", "remove", "ghost"), "no MCP server 'ghost'"),
        (("mcp", "test", "ghost", "--repo", str(tmp_path)), "no runnable MCP server 'ghost'"),
        (("mcp", "trust", "ghost", "--repo", str(tmp_path)), "proposes no MCP server 'ghost'"),
    ]
    for args, message in cases:
        done = run_qcode(*args)
        assert done.returncode == 2 and message in done.stderr, (args, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
