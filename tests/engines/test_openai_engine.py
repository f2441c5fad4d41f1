"""The openai engine against a local OpenAI-compatible server (the documented wire shapes)."""

from __future__ import annotations

import json
import socket

import pytest
from qcode.agent.engines import make_engine
from qcode.agent.engines.errors import ContextLengthExceeded
from qcode.agent.engines.openai_engine import OpenAIEngine
from qcode.agent.exceptions import UserError
from qcode.agent.qwen_xml import render_tool_call
from qcode.tools.builtin import default_registry

from qcode.config import Settings
from tests.engines.fake_openai import Behaviour, fake_openai_server

TOOLS = default_registry().schemas()
MESSAGES = [
    {"role": "system", "content": "You are qcode."},
    {"role": "user", "content": "fix total()"},
    {
        "role": "assistant",
        "content": "",
        "reasoning_content": "look first",
        "tool_calls": [
            {
                "id": "call_0",
                "type": "function",
                "function": {"name": "read_file", "arguments": {"path": "cart.py"}},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_0", "name": "read_file", "content": "1  def total(): ..."},
]


def engine_for(url: str, **overrides: object) -> OpenAIEngine:
    engine = make_engine("openai", Settings(openai_base_url=url, thinking_budget=512, **overrides))
    assert isinstance(engine, OpenAIEngine)
    return engine


def test_probe_reads_model_and_context_length() -> None:
    with fake_openai_server(Behaviour()) as url:
        engine = engine_for(url)
    assert engine.model == "Qwen/Qwen3.6-27B" and engine.max_model_len == 262144
    assert "context 262144 tokens" in engine.notices[-1]


def test_a_single_served_model_is_used_and_said() -> None:
    with fake_openai_server(Behaviour(model="qwen3-local", max_model_len=None)) as url:
        engine = engine_for(url, model="Qwen/Qwen3.6-27B")
    assert engine.model == "qwen3-local" and engine.max_model_len is None
    assert "serves qwen3-local" in engine.notices[0] and "not reported" in engine.notices[1]


def test_native_tool_calls_reasoning_usage_and_streaming() -> None:
    edit = json.dumps({"path": "cart.py", "old_text": "+ 1", "new_text": ""})
    behaviour = Behaviour(
        answers=[
            {"reasoning": "The bug is the +1.", "content": "Fixing it.", "tool_calls": [("edit_file", edit)]}
        ]
    )
    pieces: list[tuple[str, str]] = []
    with fake_openai_server(behaviour) as url:
        turn = engine_for(url).complete(MESSAGES, TOOLS, on_token=lambda *piece: pieces.append(piece))
    assert turn.reasoning == "The bug is the +1." and turn.text == "Fixing it."
    assert [(c.name, c.arguments, c.problem) for c in turn.tool_calls] == [
        ("edit_file", {"path": "cart.py", "old_text": "+ 1", "new_text": ""}, None)
    ]
    assert turn.usage.prompt_tokens == 120 and turn.usage.cached_tokens == 96
    # the server parsed the reasoning: it streams on its own channel, so a front door can fold it
    by_channel = {channel: "".join(t for t, c in pieces if c == channel) for channel in ("reasoning", "text")}
    assert by_channel == {"reasoning": "The bug is the +1.", "text": "Fixing it."}
    assert turn.time_to_first_token is not None
    sent = behaviour.requests[0]
    assert sent["tool_choice"] == "auto" and sent["stream"] is True and len(sent["tools"]) == len(TOOLS)
    assert sent["chat_template_kwargs"] == {"enable_thinking": True, "preserve_thinking": True}
    assert sent["thinking_token_budget"] == 512
    # the default sampling profile (coding); top_k and presence_penalty ride in the body's extras
    assert (sent["temperature"], sent["top_p"], sent["top_k"], sent["presence_penalty"]) == (
        0.6,
        0.95,
        20,
        0.0,
    )
    assert json.loads(sent["messages"][2]["tool_calls"][0]["function"]["arguments"]) == {"path": "cart.py"}
    assert sent["messages"][2]["reasoning_content"] == "look first"


def test_server_without_tool_parser_gets_text_mode_and_our_parser() -> None:
    xml = render_tool_call("shell", {"command": "pytest -q", "timeout": 60})
    behaviour = Behaviour(
        native_tools=False, answers=[{"content": f"<think>\nrun tests\n</think>\n\n{xml}"}, {"content": xml}]
    )
    with fake_openai_server(behaviour) as url:
        engine = engine_for(url)
        first = engine.complete(MESSAGES, TOOLS)
        second = engine.complete(MESSAGES, TOOLS)
    for turn in (first, second):
        assert [(c.name, c.arguments) for c in turn.tool_calls] == [
            ("shell", {"command": "pytest -q", "timeout": 60})
        ]
    assert first.reasoning == "run tests"
    assert [r.get("tool_choice") for r in behaviour.requests] == ["auto", "none", "none"]  # learned once
    assert any("refused native tool calls" in n for n in engine.notices)


def test_unknown_extras_are_dropped_once() -> None:
    behaviour = Behaviour(refuse_extras=True, answers=[{"content": "ok"}, {"content": "ok again"}])
    with fake_openai_server(behaviour) as url:
        engine = engine_for(url)
        assert engine.complete(MESSAGES, TOOLS).text == "ok"
        assert engine.complete(MESSAGES, TOOLS).text == "ok again"
    assert ["chat_template_kwargs" in r for r in behaviour.requests] == [True, False, False]


def test_broken_native_arguments_become_an_answerable_problem() -> None:
    behaviour = Behaviour(answers=[{"tool_calls": [("read_file", '{"path": "a.py"')]}])
    with fake_openai_server(behaviour) as url:
        turn = engine_for(url).complete(MESSAGES, TOOLS)
    assert turn.tool_calls[0].name == "read_file" and "not valid JSON" in (turn.tool_calls[0].problem or "")


def test_context_overflow_is_the_loops_signal() -> None:
    with fake_openai_server(Behaviour(context_limit=5)) as url:
        with pytest.raises(ContextLengthExceeded) as caught:
            engine_for(url).complete(MESSAGES, TOOLS)
    assert caught.value.max_model_len == 262144


def test_unreachable_server_is_one_line_naming_the_fix() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(UserError, match="cannot reach an OpenAI-compatible server at .*OPENAI_BASE_URL"):
        engine_for(f"http://127.0.0.1:{port}/v1")


def test_a_server_that_refuses_top_k_gets_it_dropped_once() -> None:
    behaviour = Behaviour(answers=[{"content": "ok"}, {"content": "ok again"}])
    behaviour.refuse = "top_k"
    with fake_openai_server(behaviour) as url:
        engine = engine_for(url, sampling_profile="instruct")
        assert engine.complete(MESSAGES, TOOLS).text == "ok"
        assert engine.complete(MESSAGES, TOOLS).text == "ok again"
    assert ["top_k" in r for r in behaviour.requests] == [True, False, False]
    assert behaviour.requests[-1]["presence_penalty"] == 1.5 and behaviour.requests[-1]["temperature"] == 0.7
    assert any("does not take top_k" in n for n in engine.notices)
