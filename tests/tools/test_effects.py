"""Every tool declares its effect: approval, recovery and the planner phase decide by it."""

from __future__ import annotations

from qcode.tools.builtin import default_registry


def test_builtin_tools_declare_what_they_do() -> None:
    effects = {tool.name: tool.effect for tool in default_registry().tools()}
    assert {name for name, effect in effects.items() if effect == "write"} == {"edit_file", "write_file"}
    assert {name for name, effect in effects.items() if effect == "exec"} == {"shell"}
    assert {name for name, effect in effects.items() if effect == "control"} == {"update_plan", "finish"}
    assert {"read_file", "list_files", "search", "git_diff", "repo_map"} <= {
        name for name, effect in effects.items() if effect == "read"
    }
