"""Differential test: qcode's `parse_turn` against vLLM's own Qwen3 parsers.

vLLM's `qwen3` reasoning parser and `qwen3_coder` tool parser are what `vllm serve` uses for
Qwen3.6; our parser is the one every engine uses (it also repairs broken output). On well-formed
turns the two must agree on reasoning, visible text, tool names and arguments.

One known difference is left out of the cases: `None`/`none` for a nullable argument. vLLM's
classic `qwen3_coder` parser reads it as null and so does qcode (issue 12); the parser engine of
the installed vLLM (0.32) keeps the text "None".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from qcode.agent.qwen_xml import parse_turn, render_tool_call
from qcode.tools.builtin import default_registry

from tests.engines.conftest import VLLM_WARNINGS

pytestmark = [pytest.mark.vllm, pytest.mark.filterwarnings(*VLLM_WARNINGS)]

TOOLS = default_registry().schemas()
CODE = 'def f(a, b):\n    if a < b and b > 0:\n        return {"k": [1, 2]}\n    return None\n'
CALL_READ = render_tool_call("read_file", {"path": "src/app.py", "start_line": 10, "end_line": 40})
CALL_EDIT = render_tool_call(
    "edit_file", {"path": "a.py", "old_text": CODE, "new_text": CODE.replace("<", "<=")}
)
CALL_PLAN = render_tool_call(
    "update_plan",
    {"plan": [{"step": "Reproduce", "status": "done"}, {"step": "Fix", "status": "in_progress"}]},
)
CALL_SHELL = render_tool_call(
    "shell", {"command": "python -m pytest -q -k 'cart and not slow'", "timeout": 30.5}
)
CALL_FLAG = render_tool_call(
    "edit_file", {"path": "b.py", "old_text": "x", "new_text": "y", "replace_all": True}
)

WELL_FORMED: dict[str, str] = {
    "text only": "The fix is in place.",
    "one call": CALL_READ,
    "text then call": "I'll read the file first.\n\n" + CALL_READ,
    "two calls": CALL_READ + "\n" + CALL_SHELL,
    "code with < > and quotes": CALL_EDIT,
    "json array argument": CALL_PLAN,
    "number and boolean": CALL_SHELL + "\n" + CALL_FLAG,
    "no arguments": render_tool_call("git_diff", {}),
    "unicode": render_tool_call("write_file", {"path": "é.txt", "content": "naïve — ✓\n"}),
    "reasoning then call": "The bug is in total().\n</think>\n\n" + CALL_READ,
    "reasoning then text": "Nothing to do.\n</think>\n\nAll tests already pass.",
    "reasoning, text, calls": "Plan first.\n</think>\n\nPlanning.\n\n" + CALL_PLAN + "\n" + CALL_SHELL,
    "explicit think tags": "<think>\nShort thought.\n</think>\n\n" + CALL_SHELL,
}

MALFORMED: dict[str, str] = {
    "unclosed parameter": "<tool_call>\n<function=read_file>\n<parameter=path>\na.py\n</function>\n"
    "</tool_call>",
    "unclosed tool_call": "<tool_call>\n<function=read_file>\n<parameter=path>\na.py\n</parameter>\n"
    "</function>",
    "missing <tool_call>": "<function=read_file>\n<parameter=path>\na.py\n</parameter>\n</function>",
    "json-style call": '<tool_call>\n{"name": "read_file", "arguments": {"path": "a.py"}}\n</tool_call>',
    "empty tool_call": "<tool_call>\n</tool_call>",
}


@pytest.fixture(scope="module")
def vllm_parsers(tiny_model_dir: Path):  # type: ignore[no-untyped-def]
    from transformers import AutoTokenizer
    from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest
    from vllm.reasoning import ReasoningParserManager
    from vllm.tool_parsers import ToolParserManager

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    request = ChatCompletionRequest(model="qwen", messages=[{"role": "user", "content": "x"}], tools=TOOLS)
    tools = ToolParserManager.get_tool_parser("qwen3_coder")(tokenizer, tools=request.tools)
    reasoning = ReasoningParserManager.get_reasoning_parser("qwen3")(tokenizer)
    return tools, reasoning, request


def vllm_view(parsers: Any, raw: str, thinking: bool) -> dict[str, Any]:
    """What `vllm serve --reasoning-parser qwen3 --tool-call-parser qwen3_coder` would return."""
    tools, reasoning_parser, request = parsers
    reasoning, content = reasoning_parser.extract_reasoning(raw, request) if thinking else (None, raw)
    extracted = tools.extract_tool_calls(content or "", request)
    text = extracted.content if extracted.tools_called else content
    return {
        "reasoning": (reasoning or "").strip(),
        "text": (text or "").strip(),
        "calls": [(c.function.name, json.loads(c.function.arguments)) for c in extracted.tool_calls],
    }


def qcode_view(raw: str) -> dict[str, Any]:
    parsed = parse_turn(raw, TOOLS)
    return {
        "reasoning": parsed.reasoning,
        "text": parsed.text,
        "calls": [(c.name, c.arguments) for c in parsed.tool_calls],
    }


@pytest.mark.parametrize("case", sorted(WELL_FORMED))
def test_agree_on_well_formed_turns(vllm_parsers, case: str) -> None:  # type: ignore[no-untyped-def]
    raw = WELL_FORMED[case]
    thinking = "</think>" in raw
    ours, theirs = qcode_view(raw), vllm_view(vllm_parsers, raw, thinking)
    assert ours == theirs
    assert all(c.problem is None for c in parse_turn(raw, TOOLS).tool_calls)


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_turns_give_one_answerable_call_each(vllm_parsers, case: str) -> None:  # type: ignore[no-untyped-def]
    """Where vLLM's parser may drop or mangle a broken call, ours answers every `<tool_call>`."""
    raw = MALFORMED[case]
    calls = parse_turn(raw, TOOLS).tool_calls
    assert len(calls) == max(1, raw.count("<tool_call>"))
    for call in calls:
        assert call.problem or call.repaired
    vllm_view(vllm_parsers, raw, thinking=False)  # vLLM's parser must not raise either


ALPHABET = list("abcXYZ019 _-.,:;'\"()[]{}<>=+*/\\\n\té✓")
SAFE_TEXT = (
    st.text(alphabet=st.sampled_from(ALPHABET), min_size=1, max_size=40)
    .map(str.strip)
    .filter(lambda s: s and s.lower() != "null" and "<" not in s[:1])
)


@st.composite
def call_turns(draw: st.DrawFn) -> str:
    """Random well-formed turns over the real tools: text, reasoning, one to three calls."""
    pieces = []
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(["read_file", "shell", "edit_file", "write_file", "search"]))
        arguments: dict[str, Any] = {
            "read_file": lambda: {"path": draw(SAFE_TEXT), "start_line": draw(st.integers(1, 10**6))},
            "shell": lambda: {"command": draw(SAFE_TEXT), "timeout": draw(st.integers(1, 3600))},
            "edit_file": lambda: {
                "path": draw(SAFE_TEXT),
                "old_text": draw(SAFE_TEXT),
                "new_text": draw(SAFE_TEXT),
                "replace_all": draw(st.booleans()),
            },
            "write_file": lambda: {"path": draw(SAFE_TEXT), "content": draw(SAFE_TEXT)},
            "search": lambda: {"pattern": draw(SAFE_TEXT)},
        }[name]()
        pieces.append(render_tool_call(name, arguments))
    text = draw(st.one_of(st.just(""), SAFE_TEXT.filter(lambda s: "<" not in s)))
    reasoning = draw(st.one_of(st.just(""), SAFE_TEXT.filter(lambda s: "<" not in s)))
    body = (text + "\n\n" if text else "") + "\n".join(pieces)
    return f"{reasoning}\n</think>\n\n{body}" if reasoning else body


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=call_turns())
def test_agree_on_random_well_formed_turns(vllm_parsers, raw: str) -> None:  # type: ignore[no-untyped-def]
    assert qcode_view(raw) == vllm_view(vllm_parsers, raw, "</think>" in raw)
