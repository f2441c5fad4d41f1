"""Loop behaviour that needs no sandbox: truncated calls, limits, nudges."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from qcode.agent.contracts import ExecResult, Message, Turn
from qcode.agent.events import EventBus, TokenStreamed
from qcode.agent.exceptions import Interrupted, LimitReached
from qcode.agent.loop import AgentLoop, LoopLimits
from qcode.agent.qwen_xml import parse_turn
from qcode.tools.builtin import default_registry
from qcode.tools.registry import ToolContext


class NoSandbox:
    """These tests never reach the shell; a call that did would fail loudly."""

    def exec(self, command: str, timeout: float | None = None) -> ExecResult:
        raise AssertionError("the shell must not run in this test")

    def close(self) -> None:
        pass


class Scripted:
    name = "scripted"

    def __init__(self, turns: list[tuple[str, str]]) -> None:
        self.turns = list(turns)

    def complete(
        self, messages: Sequence[Message], tools: Sequence[dict[str, Any]], *, on_token=None
    ) -> Turn:
        raw, finish_reason = self.turns.pop(0)
        parsed = parse_turn(raw, tools)
        return Turn(text=parsed.text, tool_calls=parsed.tool_calls, raw=raw, finish_reason=finish_reason)

    def close(self) -> None:
        pass


def _loop(tmp_path: Path, turns: list[tuple[str, str]], **limits: Any) -> AgentLoop:
    ctx = ToolContext(workspace=tmp_path, sandbox=NoSandbox(), diff=lambda path: "")
    return AgentLoop(Scripted(turns), default_registry(), ctx, EventBus(), LoopLimits(**limits))


def test_a_call_cut_off_by_the_token_limit_is_not_run(tmp_path: Path) -> None:
    cut = (
        "<tool_call>\n<function=write_file>\n<parameter=path>\nbig.py\n</parameter>\n"
        "<parameter=content>\nx = 1\n"
    )
    loop = _loop(tmp_path, [(cut, "length"), (cut, "stop")])
    loop.say("go", source="user")
    loop.step("executor")
    assert not (tmp_path / "big.py").exists()
    assert "cut off by the output token limit" in loop.messages[-1]["content"]
    loop.step("executor")  # the same text, ended normally: an unclosed parameter is repaired and run
    assert (tmp_path / "big.py").read_text() == "x = 1"


def test_turn_without_calls_gets_a_nudge_and_limits_stop(tmp_path: Path) -> None:
    loop = _loop(tmp_path, [("just thinking aloud", "stop")] * 3, max_steps=2)
    with pytest.raises(LimitReached, match="step limit"):
        loop.run("task")
    nudges = [m for m in loop.messages if m["role"] == "user" and "called no tool" in m["content"]]
    assert len(nudges) == 2


class Streaming:
    """Streams its turn a word at a time and records how far it got before the caller stopped it."""

    name = "streaming"

    def __init__(self, raw: str) -> None:
        self.raw, self.streamed, self.stopped_by = raw, [], None

    def complete(
        self, messages: Sequence[Message], tools: Sequence[dict[str, Any]], *, on_token=None
    ) -> Turn:
        try:
            for word in self.raw.split(" "):
                on_token(word + " ", "text")
                self.streamed.append(word)
        except BaseException as err:
            self.stopped_by = err  # a real engine aborts its request here
            raise
        parsed = parse_turn(self.raw, tools)
        return Turn(text=parsed.text, tool_calls=parsed.tool_calls, raw=self.raw)

    def close(self) -> None:
        pass


def test_an_interrupt_stops_the_generation_mid_turn(tmp_path: Path) -> None:
    engine = Streaming(" ".join(f"word{i}" for i in range(50)))
    ctx = ToolContext(workspace=tmp_path, sandbox=NoSandbox(), diff=lambda path: "")
    bus = EventBus()
    loop = AgentLoop(engine, default_registry(), ctx, bus, LoopLimits())
    streamed: list[str] = []

    def press_esc_after_three_tokens(event: object) -> None:
        if isinstance(event, TokenStreamed):
            streamed.append(event.text)
            if len(streamed) == 3:
                loop.cancelled.set()

    bus.subscribe(press_esc_after_three_tokens)
    with pytest.raises(Interrupted):
        loop.run("task")
    assert len(engine.streamed) == 3 and isinstance(engine.stopped_by, Interrupted)
    assert [m["role"] for m in loop.messages] == ["system", "user"]  # no half-written turn


def test_file_names_that_are_not_utf8_reach_the_model_and_trajectory_escaped(tmp_path: Path) -> None:
    with open(bytes(tmp_path) + b"/bad\xff.txt", "wb") as handle:  # a Latin-1 name from an old archive
        handle.write(b"x")
    call = "<tool_call>\n<function=list_files>\n</function>\n</tool_call>"
    loop = _loop(tmp_path, [(call, "stop")])
    events: list[object] = []
    loop.bus.subscribe(events.append)
    loop.say("the overview lists " + os.fsdecode(b"bad\xff.txt"))
    loop.step("executor")
    records = [event.model_dump_json() for event in events]  # what the trajectory writes: no error
    assert "bad\\\\xff.txt" in records[0] and "bad\\\\xff.txt" in records[-1]
    assert loop.messages[1]["content"] == "the overview lists bad\\xff.txt"
    assert loop.messages[-1]["content"] == "bad\\xff.txt"


def test_answers_follow_the_calls_while_finish_runs_last(tmp_path: Path) -> None:
    """Qwen pairs results with calls by position: [finish, write_file] must be answered in that
    order, although the write runs first (so `finish` sees the finished work)."""
    from qcode.agent.events import ObservationMade
    from qcode.agent.qwen_xml import render_tool_call

    raw = "\n".join(
        [
            render_tool_call("finish", {"summary": "wrote it"}),
            render_tool_call("write_file", {"path": "a.txt", "content": "hi\n"}),
        ]
    )
    loop = _loop(tmp_path, [(raw, "stop")])
    ran: list[str] = []
    loop.bus.subscribe(lambda e: ran.append(e.name) if isinstance(e, ObservationMade) else None)
    loop.say("go", source="user")
    loop.step("executor")
    assert ran == ["write_file", "finish"]
    answers = [m for m in loop.messages if m["role"] == "tool"]
    assert [m["name"] for m in answers] == ["finish", "write_file"]
    assert [m["tool_call_id"] for m in answers] == ["call_0", "call_1"]
    assert (tmp_path / "a.txt").read_text() == "hi\n"
