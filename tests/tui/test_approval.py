"""The TUI's approval gate: it blocks the worker thread until the UI answers."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor

from qcode.agent.contracts import ToolCall
from qcode.agent.policy import Request
from qcode.tools.builtin import default_registry

from qcode.tui.approval import ApprovalGate, Decision

_REGISTRY = default_registry()


def call(name: str, **arguments: object) -> Request:
    return _REGISTRY.request(ToolCall(id="c1", name=name, arguments=arguments))


def _gate_with_answers(answers: list[Decision], mode: str = "ask") -> tuple[ApprovalGate, list[str]]:
    asked: list[str] = []

    def ask(request: Request, future: Future[Decision]) -> None:
        asked.append(request.call.name)
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

    def slow_person(_request: Request) -> None:
        # The person takes half a second to decide: that is what is measured, not a synchronisation.
        decided.wait(0.5)
        return None

    registry = ToolRegistry([Tool("noop", "does nothing", _Args, lambda args, ctx: Observation(text="ok"))])
    ctx = ToolContext(workspace=tmp_path, sandbox=None, diff=lambda path: "", approve=slow_person)  # type: ignore[arg-type]
    observation = registry.dispatch(ToolCall(id="c1", name="noop", arguments={}), ctx)
    assert observation.ok and observation.data["duration"] < 0.25
