"""The approval policy (agent/policy.py): decided from what each tool declares, never its name."""

from __future__ import annotations

import pytest
from qcode.agent.contracts import ToolCall
from qcode.agent.policy import Request, always_key, changes_files, is_safe_command, needs_approval, shows_diff
from qcode.tools.builtin import default_registry

_REGISTRY = default_registry()


def call(name: str, **arguments: object) -> Request:
    """The request the registry makes for a built-in tool's call (its declared effect)."""
    return _REGISTRY.request(ToolCall(id="c1", name=name, arguments=arguments))


@pytest.mark.parametrize(
    "command",
    [
        "ls -la",
        "cat a.py | grep def",
        "rg -n foo src",
        "find . -name '*.py'",
        "tree -L 2 src",
        "rg -n --glob '*.py' foo",
        "cd src && ls",
        "grep -rn 'a;b' .",
    ],
)
def test_safe_commands(command: str) -> None:
    assert is_safe_command(command)


@pytest.mark.parametrize(
    "command",
    [
        "rm -rf build",
        "pip install x",
        "git commit -am x",
        "git push",
        "cat a > b",
        "ls; rm x",
        "echo $(rm x)",
        "ls `rm x`",
        "find . -delete",
        "find . -exec rm {} ;",
        "python script.py",
        "ls &",
        "pytest -q\nrm x",
        "cat 'unbalanced",
        "",
        "sed -i s/a/b/ f",
        "ls | sh",
        # [issue 13] each writes or runs a program although its command is on the list
        "rg --pre ./evil foo",
        "rg --pre=./evil foo",
        "rg -zn foo",
        "find . -fprint0 out",
        "find . -fls out",
        "tree -o out",
        "tree -R -H . -o x",
        "file -C -m magic",
        # git obeys the workspace's own .git/config (diff.external, core.fsmonitor); runners run code
        "git status",
        "git diff --output=../x",
        "git diff --ext-diff",
        "git branch -D main",
        "pytest -q",
        "python -m pytest -q",
    ],
)
def test_unsafe_commands(command: str) -> None:
    assert not is_safe_command(command)


def test_modes() -> None:
    edit, write = call("edit_file", path="a.py"), call("write_file", path="b.py")
    safe, unsafe, read = call("shell", command="ls -la"), call("shell", command="make"), call("read_file")
    calls = (edit, write, safe, unsafe, read)
    assert [needs_approval(c, "ask") for c in calls] == [True, True, False, True, False]
    assert [needs_approval(c, "auto-edit") for c in (edit, write, safe, unsafe, read)] == [
        False,
        False,
        False,
        True,
        False,
    ]
    assert not any(needs_approval(c, "yolo") for c in (edit, write, safe, unsafe, read))


def test_always_remembers_the_exact_command_or_the_file() -> None:
    allowed = {always_key(call("shell", command=" make test ")), always_key(call("edit_file", path="a.py"))}
    assert not needs_approval(call("shell", command="make test"), "ask", allowed)
    assert needs_approval(call("shell", command="make install"), "ask", allowed)
    assert not needs_approval(call("write_file", path="a.py"), "ask", allowed)
    assert needs_approval(call("edit_file", path="b.py"), "ask", allowed)


def test_tools_from_outside_ask_even_with_a_safe_looking_command() -> None:
    """An unknown or host-side tool is not the sandbox's shell: `command="ls"` earns it nothing."""
    for request in (call("mcp__host__run", command="ls"), Request(call("x").call, "exec")):
        assert request.effect == "exec" and not request.sandboxed_command
        assert needs_approval(request, "auto-edit") and needs_approval(request, "ask")
        assert not needs_approval(request, "yolo")
    assert not needs_approval(Request(call("x").call, "read"), "ask")


def test_what_changes_files_follows_the_declared_effect() -> None:
    effects = {name: _REGISTRY.effect_of(name) for name in _REGISTRY.names}
    changing = sorted(name for name, effect in effects.items() if changes_files(effect))
    assert changing == ["edit_file", "shell", "write_file"]
    assert sorted(name for name, effect in effects.items() if shows_diff(effect)) == [
        "edit_file",
        "write_file",
    ]
    assert changes_files(_REGISTRY.effect_of("mcp__any__tool"))  # unknown: the careful answer
