"""The approval policy (pure) and the gate that blocks the worker thread until the UI answers."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor

import pytest
from qcode.agent.contracts import ToolCall

from qcode.tui.approval import ApprovalGate, Decision, always_key, is_safe_command, needs_approval


def call(name: str, **arguments: object) -> ToolCall:
    return ToolCall(id="c1", name=name, arguments=arguments)


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


def _gate_with_answers(answers: list[Decision], mode: str = "ask") -> tuple[ApprovalGate, list[str]]:
    asked: list[str] = []

    def ask(tool_call: ToolCall, future: Future[Decision]) -> None:
        asked.append(tool_call.name)
        # resolve from another thread, as the UI thread does
        threading.Thread(target=future.set_result, args=(answers.pop(0),)).start()

    return ApprovalGate(mode, ask), asked  # type: ignore[arg-type]


def test_gate_approves_rejects_and_remembers() -> None:
    gate, asked = _gate_with_answers([Decision.ACCEPT, Decision.REJECT, Decision.ALWAYS])
    assert gate(call("shell", command="make")) is None
    assert gate(call("shell", command="make")) == "the user rejected it"
    assert gate(call("shell", command="make")) is None  # always
    assert gate(call("shell", command="make")) is None  # not asked again
    assert gate(call("read_file", path="a")) is None  # never asks
    assert asked == ["shell", "shell", "shell"]


def test_release_unblocks_a_waiting_worker_and_close_rejects_later_calls() -> None:
    shown = threading.Event()
    gate = ApprovalGate("ask", lambda _call, _future: shown.set())
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(gate, call("shell", command="make"))
        assert shown.wait(10)
        assert not waiting.done()
        gate.release("the user interrupted the run")
        assert waiting.result(timeout=10) == "the user interrupted the run"
    gate.release("the user quit qcode", close=True)
    assert gate(call("shell", command="make")) == "the user quit qcode"


def test_time_a_person_takes_to_answer_is_not_tool_time(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from pydantic import BaseModel
    from qcode.agent.contracts import Observation
    from qcode.tools.registry import Tool, ToolContext, ToolRegistry

    class _Args(BaseModel):
        pass

    decided = threading.Event()

    def slow_person(_call: ToolCall) -> None:
        # The person takes half a second to decide: that is what is measured, not a synchronisation.
        decided.wait(0.5)
        return None

    registry = ToolRegistry([Tool("noop", "does nothing", _Args, lambda args, ctx: Observation(text="ok"))])
    ctx = ToolContext(workspace=tmp_path, sandbox=None, diff=lambda path: "", approve=slow_person)  # type: ignore[arg-type]
    observation = registry.dispatch(ToolCall(id="c1", name="noop", arguments={}), ctx)
    assert observation.ok and observation.data["duration"] < 0.25
