"""Tests for the Qwen3 output parser: well-formed calls, schema types, think, repairs, problems."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from qcode.agent import qwen_xml
from qcode.agent.contracts import ToolCall
from qcode.agent.qwen_xml import ParsedTurn, parse_turn, render_tool_call, split_reasoning


def tool(name: str, **props: Any) -> dict[str, Any]:
    schema = {"type": "object", "properties": props}
    return {"type": "function", "function": {"name": name, "description": "", "parameters": schema}}


STR, INT, BOOL, NUM = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}, {"type": "number"}
TOOLS = [
    tool("read_file", path=STR, start_line=INT, end_line={"anyOf": [INT, {"type": "null"}]}),
    tool("write_file", path=STR, content=STR),
    tool("list_files", path={"anyOf": [STR, {"type": "null"}]}),
    tool("update_plan", plan={"type": "array", "items": {"$ref": "#/$defs/PlanStep"}}),
    tool(
        "search",
        pattern=STR,
        regex=BOOL,
        ratio=NUM,
        options={"type": "object"},
        filters={"$ref": "#/$defs/Filters"},
    ),
]


def call(name: str, body: str) -> str:
    return f"<tool_call>\n<function={name}>\n{body}</function>\n</tool_call>"


def param(key: str, value: str) -> str:
    return f"<parameter={key}>\n{value}\n</parameter>\n"


def only_call(raw: str) -> ToolCall:
    parsed = parse_turn(raw, TOOLS)
    assert len(parsed.tool_calls) == 1, parsed
    return parsed.tool_calls[0]


def clean_call(raw: str) -> ToolCall:
    result = only_call(raw)
    assert result.problem is None, result.problem
    assert result.repaired is None, result.repaired
    return result


# ---------------------------------------------------------------- well-formed output

BRIEF_EXAMPLE = """<think>
I should read the file.
</think>
Let me look.
<tool_call>
<function=read_file>
<parameter=path>
src/app.py
</parameter>
<parameter=start_line>
10
</parameter>
</function>
</tool_call>"""


def test_single_call_with_reasoning_and_text() -> None:
    parsed = parse_turn(BRIEF_EXAMPLE, TOOLS)
    assert parsed == ParsedTurn(
        text="Let me look.",
        reasoning="I should read the file.",
        tool_calls=[
            ToolCall(id="call_0", name="read_file", arguments={"path": "src/app.py", "start_line": 10})
        ],
    )


def test_multiple_calls_keep_order_ids_and_all_text() -> None:
    raw = (
        "First.\n"
        + call("read_file", param("path", "a.py"))
        + "\nBetween.\n"
        + call("write_file", param("path", "b.py") + param("content", "x = 1"))
        + "\nAfter the last call."
    )
    parsed = parse_turn(raw, TOOLS)
    assert [(c.id, c.name) for c in parsed.tool_calls] == [
        ("call_0", "read_file"),
        ("call_1", "write_file"),
    ]
    assert parsed.tool_calls[1].arguments == {"path": "b.py", "content": "x = 1"}
    assert parsed.text == "First.\n\nBetween.\n\nAfter the last call."
    assert all(c.problem is None and c.repaired is None for c in parsed.tool_calls)


def test_code_value_keeps_markup_blank_lines_and_indentation() -> None:
    code = '\n  <div class="a">\n\n    if a < b and c > d:\n        return "<b>"\n  </div>\n'
    result = clean_call(call("write_file", param("path", "x.html") + param("content", code)))
    assert result.arguments["content"] == code  # exactly one newline stripped on each side


def test_value_containing_parameter_close_uses_the_last_close() -> None:
    code = 'CLOSE = "</parameter>"\nOPEN = "<parameter=" + key'
    result = clean_call(call("write_file", param("content", code) + param("path", "p.py")))
    assert result.arguments == {"content": code, "path": "p.py"}


def test_value_containing_function_and_tool_call_close() -> None:
    code = 'END = "</function>"\nSTOP = "</tool_call>"'
    result = clean_call(call("write_file", param("content", code)))
    assert result.arguments == {"content": code}


def test_inline_parameters_without_newlines() -> None:
    raw = "<tool_call><function=read_file><parameter=path>a.py</parameter></function></tool_call>"
    assert clean_call(raw).arguments == {"path": "a.py"}


def test_call_without_parameters() -> None:
    assert clean_call(call("list_files", "")).arguments == {}


def test_render_tool_call_format() -> None:
    rendered = render_tool_call("read_file", {"path": "a.py", "start_line": 3, "flags": [1, "x"]})
    assert rendered == (
        "<tool_call>\n<function=read_file>\n"
        "<parameter=path>\na.py\n</parameter>\n"
        "<parameter=start_line>\n3\n</parameter>\n"
        '<parameter=flags>\n[1, "x"]\n</parameter>\n'
        "</function>\n</tool_call>"
    )


# ---------------------------------------------------------------- types by schema


@pytest.mark.parametrize(
    ("name", "key", "value", "expected"),
    [
        ("read_file", "start_line", "42", 42),
        ("read_file", "start_line", "-3", -3),
        ("read_file", "end_line", "7", 7),  # anyOf [integer, null], as pydantic renders int | None
        ("read_file", "end_line", "null", None),
        ("read_file", "path", "10", "10"),  # a string stays a string
        ("read_file", "path", "null", "null"),  # deliberate: string "null" is not None
        ("read_file", "end_line", "None", None),  # Qwen3.5's templates wrote Python's str(None)
        ("read_file", "end_line", "none", None),
        ("read_file", "start_line", "None", None),  # not a string type: null, as vLLM reads it
        ("read_file", "path", "None", "None"),  # a plain string stays the string (vLLM agrees)
        ("search", "options", "None", None),
        ("list_files", "path", "None", None),  # string | null: the folder "None" is not meant
        ("list_files", "path", "NONE", "NONE"),  # only the two spellings vLLM maps
        ("search", "regex", "true", True),
        ("search", "regex", "False", False),
        ("search", "regex", "maybe", "maybe"),  # left for validation, not read as false
        ("search", "ratio", "0.5", 0.5),
        ("search", "ratio", "2", 2),
        ("search", "options", '{"a": [1, 2]}', {"a": [1, 2]}),
        ("search", "options", "{'a': True}", {"a": True}),  # ast.literal_eval fallback
        ("search", "options", "not json", "not json"),
        ("search", "filters", '{"glob": "*.py"}', {"glob": "*.py"}),  # a pydantic sub-model
        ("search", "unknown_key", "12", "12"),
        ("no_such_tool", "n", "12", "12"),
    ],
)
def test_value_conversion_by_schema(name: str, key: str, value: str, expected: Any) -> None:
    result = clean_call(call(name, param(key, value)))
    assert result.arguments == {key: expected}
    assert type(result.arguments[key]) is type(expected)


def test_array_of_objects_for_update_plan() -> None:
    plan = '[\n  {"step": "read", "status": "done"},\n  {"step": "fix", "status": "pending"}\n]'
    result = clean_call(call("update_plan", param("plan", plan)))
    assert result.arguments["plan"] == [
        {"step": "read", "status": "done"},
        {"step": "fix", "status": "pending"},
    ]


def test_unknown_tool_keeps_its_name() -> None:
    assert clean_call(call("frobnicate", param("x", "1"))).name == "frobnicate"


def test_malformed_tool_schemas_do_not_crash() -> None:
    tools: Any = [None, "x", {"function": "nope"}, {"function": {"name": "t", "parameters": 3}}]
    parsed = parse_turn(call("t", param("a", "1")), tools)
    assert parsed.tool_calls[0].arguments == {"a": "1"}


# ---------------------------------------------------------------- reasoning


@pytest.mark.parametrize(
    ("raw", "reasoning", "text"),
    [
        ("<think>\nplan\n</think>\n\nanswer", "plan", "answer"),
        ("plan it\n</think>\nanswer", "plan it", "answer"),  # template opened <think>
        ("just an answer", "", "just an answer"),
        ("<think>\nstill thinking when cut", "still thinking when cut", ""),
        ("<think>\n\n</think>\n\nno thinking", "", "no thinking"),
        ("use <think> tags like this", "", "use <think> tags like this"),  # not at start
    ],
)
def test_think_handling(raw: str, reasoning: str, text: str) -> None:
    parsed = parse_turn(raw)
    assert (parsed.reasoning, parsed.text, parsed.tool_calls) == (reasoning, text, [])


def test_tool_call_after_lone_think_close() -> None:
    parsed = parse_turn("I need the file.\n</think>\n" + call("read_file", param("path", "a")))
    assert parsed.reasoning == "I need the file."
    assert parsed.tool_calls[0].arguments == {"path": "a"}


def test_tool_call_inside_unclosed_think_ends_reasoning() -> None:
    raw = "<think>\nI will mention <tool_call> here.\n" + call("read_file", param("path", "a"))
    parsed = parse_turn(raw, TOOLS)
    assert parsed.reasoning == "I will mention <tool_call> here."
    assert [c.arguments for c in parsed.tool_calls] == [{"path": "a"}]


def test_split_reasoning_keeps_raw_parts() -> None:
    assert split_reasoning("<think>a</think>b") == ("a", "b")
    assert split_reasoning("b") == ("", "b")


# ---------------------------------------------------------------- repairs


@pytest.mark.parametrize(
    ("raw", "arguments", "note"),
    [
        (
            "<tool_call>\n<function=read_file>\n<parameter=path>\nsrc/app.py\n",
            {"path": "src/app.py"},
            "closed <parameter=path>",
        ),
        (
            call("read_file", "<parameter=path>\na.py\n" + param("start_line", "3")),
            {"path": "a.py", "start_line": 3},
            "closed <parameter=path>",
        ),
        (
            call("read_file", "<parameter=path>\na.py\n"),
            {"path": "a.py"},
            "closed <parameter=path>",
        ),
        (
            "<tool_call>\n<function=read_file>\n" + param("path", "a") + "</tool_call>",
            {"path": "a"},
            "added missing </function>",
        ),
        (
            "<tool_call>\n<function=read_file>\n" + param("path", "a") + "</function>",
            {"path": "a"},
            "added missing </tool_call>",
        ),
        (call("read_file", param("start_line", '"12"')), {"start_line": 12}, "unquoted integer"),
        (call("read_file", param("start_line", "12.0")), {"start_line": 12}, "read as integer"),
        (call("search", param("regex", "'true'")), {"regex": True}, "unquoted boolean"),
        (call("search", param("ratio", '"1.5"')), {"ratio": 1.5}, "unquoted number"),
        (
            "<tool_call>\nI will read it\n<function=read_file>\n" + param("path", "a") + "</function>",
            {"path": "a"},
            "ignored text before",
        ),
    ],
)
def test_repairs(raw: str, arguments: dict[str, Any], note: str) -> None:
    result = only_call(raw)
    assert result.problem is None, result.problem
    assert result.arguments == arguments
    assert result.repaired is not None and note in result.repaired


def test_missing_tool_call_close_keeps_following_text() -> None:
    raw = "<tool_call>\n<function=read_file>\n" + param("path", "a") + "</function>\nDone."
    parsed = parse_turn(raw, TOOLS)
    assert parsed.text == "Done."
    assert parsed.tool_calls[0].arguments == {"path": "a"}


@pytest.mark.parametrize(
    "body",
    [
        '{"name": "read_file", "arguments": {"path": "a", "start_line": "5"}}',
        '{"name": "read_file", "arguments": "{\\"path\\": \\"a\\", \\"start_line\\": 5}"}',
        '{"name": "read_file", "parameters": {"path": "a", "start_line": 5.0}}',
    ],
)
def test_json_style_tool_call(body: str) -> None:
    parsed = parse_turn(f"Reading.\n<tool_call>\n{body}\n</tool_call>\nok", TOOLS)
    (result,) = parsed.tool_calls
    assert (result.name, result.arguments, result.problem) == (
        "read_file",
        {"path": "a", "start_line": 5},
        None,
    )
    assert result.repaired is not None and "JSON-style" in result.repaired
    assert parsed.text == "Reading.\n\nok"


def test_json_string_integer_is_coerced_and_noted() -> None:
    body = '{"name": "read_file", "arguments": {"start_line": "5"}}'
    result = only_call(f"<tool_call>{body}</tool_call>")
    assert result.arguments == {"start_line": 5}
    assert result.repaired is not None and "start_line" in result.repaired


def test_json_arguments_inside_function() -> None:
    result = only_call(call("read_file", '{"path": "a", "start_line": 2}\n'))
    assert (result.arguments, result.problem) == ({"path": "a", "start_line": 2}, None)
    assert result.repaired is not None and "JSON arguments" in result.repaired


def test_bare_function_without_tool_call_tag() -> None:
    raw = "Reading.\n<function=read_file>\n" + param("path", "a") + "</function>\nThen more."
    parsed = parse_turn(raw, TOOLS)
    (result,) = parsed.tool_calls
    assert (result.name, result.arguments, result.problem) == ("read_file", {"path": "a"}, None)
    assert result.repaired is not None and "<tool_call>" in result.repaired
    assert parsed.text == "Reading.\n\nThen more."


def test_function_tag_mentioned_in_prose_is_not_a_call() -> None:
    raw = "Qwen writes calls as <function=NAME> blocks."
    assert parse_turn(raw).tool_calls == []


# ---------------------------------------------------------------- problems


@pytest.mark.parametrize(
    ("raw", "name", "what", "quoted"),
    [
        ("<tool_call>\nread_file path=a\n</tool_call>", "", "no <function=NAME>", "read_file path=a"),
        ("<tool_call>\n</tool_call>", "", "empty", "<tool_call>"),
        ("<tool_call>", "", "empty", "<tool_call>"),
        (call("", param("path", "a")), "", "empty function name", "<function=>"),
        (call("read file", param("path", "a")), "", "malformed", "<function=read file>"),
        ("<tool_call>\n<function=read_fi", "", "malformed", "<function=read_fi"),
        (
            call("read_file", param("path", "a") + param("path", "b")),
            "read_file",
            "given twice",
            "<parameter=path>",
        ),
        (call("read_file", param("", "a")), "read_file", "empty name", "<parameter=>"),
        (call("read_file", "path = a.py\n"), "read_file", "outside <parameter", "path = a.py"),
        (
            call("read_file", param("path", "a") + "oops\n"),
            "read_file",
            "outside <parameter",
            "oops",
        ),
        (
            call("read_file", param("path", "a") + "</function>\n<function=write_file>\n"),
            "read_file",
            "two functions",
            "<function=write_file>",
        ),
        ("<tool_call>\n{not json}\n</tool_call>", "", "not valid", "{not json}"),
        ('<tool_call>{"arguments": {}}</tool_call>', "", "no name", '{"arguments": {}}'),
        ('<tool_call>{"name": "x", "arguments": [1]}</tool_call>', "x", "not a JSON object", "[1]"),
    ],
)
def test_problems_quote_the_defect_and_show_the_form(raw: str, name: str, what: str, quoted: str) -> None:
    result = only_call(raw)
    assert result.name == name
    assert result.problem is not None
    assert what in result.problem
    assert quoted in result.problem
    assert f"<function={name or 'TOOL_NAME'}>" in result.problem
    assert "<parameter=KEY>" in result.problem and "</tool_call>" in result.problem


def test_parse_turn_never_raises_even_if_the_parser_breaks(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(raw: str, tools: Any) -> ParsedTurn:
        raise RuntimeError("bug")

    monkeypatch.setattr(qwen_xml, "_parse", explode)
    parsed = parse_turn("hi <tool_call> x <tool_call> y")
    assert parsed.text == "hi <tool_call> x <tool_call> y"
    assert [c.id for c in parsed.tool_calls] == ["call_0", "call_1"]
    assert all(c.problem for c in parsed.tool_calls)


# ---------------------------------------------------------------- properties

IDENT = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True)
VALUE_FRAGMENTS = [
    "<",
    ">",
    "/",
    "\n",
    " ",
    "  ",
    "\t",
    "a < b",
    "x > 1",
    "<div>",
    "</div>",
    "</parameter>",
    "</function>",
    "</tool_call>",
    "<parameter",
    "<function=",
    "{",
    "}",
    '"',
    "null",
    "10",
    "é",
]
TEXT_VALUE = st.lists(st.one_of(st.sampled_from(VALUE_FRAGMENTS), st.text(max_size=6)), max_size=12).map(
    "".join
)
ARG_VALUE = st.one_of(
    TEXT_VALUE,
    st.integers(),
    st.booleans(),
    st.lists(st.one_of(st.integers(), st.booleans(), st.text(max_size=8)), max_size=5),
)


def unsupported(value: Any) -> bool:
    """Values the module docstring documents as cut short (they contain a structural tag)."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return bool(
        "<tool_call>" in text
        or "</think>" in text
        or re.search(r"<parameter=[^\s<>]*>", text)
        or re.search(r"</function>\s*<function=", text)
    )


def schema_for(value: Any) -> dict[str, str]:
    for kind, name in ((bool, "boolean"), (int, "integer"), (list, "array"), (str, "string")):
        if isinstance(value, kind):
            return {"type": name}
    raise AssertionError(value)


@pytest.mark.slow
@settings(max_examples=500, deadline=None, database=None)
@given(name=IDENT, arguments=st.dictionaries(IDENT, ARG_VALUE, max_size=5))
def test_render_then_parse_round_trips(name: str, arguments: dict[str, Any]) -> None:
    assume(not any(unsupported(v) for v in arguments.values()))
    tools = [tool(name, **{k: schema_for(v) for k, v in arguments.items()})]
    raw = "Doing it.\n" + render_tool_call(name, arguments) + "\nafter"
    parsed = parse_turn(raw, tools)
    assert parsed.text == "Doing it.\n\nafter"
    assert parsed.tool_calls == [ToolCall(id="call_0", name=name, arguments=arguments)]


FRAGMENTS = [
    "<tool_call>",
    "</tool_call>",
    "<function=",
    "<function=read_file>",
    "<function=search>",
    "<function=>",
    "</function>",
    "<parameter=",
    "<parameter=path>",
    "<parameter=start_line>",
    "<parameter=regex>",
    "<parameter=options>",
    "<parameter=>",
    "</parameter>",
    "<think>",
    "</think>",
    "{",
    "}",
    '{"name": "read_file", "arguments": {',
    '"path": "a"',
    '"',
    "'",
    "\n",
    " ",
    ">",
    "<",
    "=",
    "/",
    "null",
    "10",
    "1e999",
    "nan",
    "true",
    "[",
    "]",
    "[[[[",
]
GARBAGE = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=8)), max_size=40).map("".join)


def assert_invariants(raw: str, parsed: ParsedTurn) -> None:
    """Each `<tool_call>` outside reasoning yields exactly one call, named or with a problem."""
    opened = raw.count("<tool_call>") - parsed.reasoning.count("<tool_call>")
    if opened:
        assert len(parsed.tool_calls) == opened
    else:
        assert len(parsed.tool_calls) <= raw.count("<function=")
    assert [c.id for c in parsed.tool_calls] == [f"call_{i}" for i in range(len(parsed.tool_calls))]
    for result in parsed.tool_calls:
        assert result.problem or result.name
    assert parsed.text == parsed.text.strip()


@pytest.mark.slow
@settings(max_examples=3000, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=GARBAGE)
def test_fuzz_malformed_turns(raw: str) -> None:
    parsed = qwen_xml._parse(raw, TOOLS)  # unguarded: any exception fails the test
    assert_invariants(raw, parsed)


FULL_TURN = (
    "<think>\nRead, then fix.\n</think>\nLooking.\n"
    + call("read_file", param("path", "a.py") + param("start_line", "3"))
    + "\n"
    + call("update_plan", param("plan", '[{"step": "fix", "status": "pending"}]'))
    + "\nDone."
)


def test_every_truncation_of_a_good_turn() -> None:
    name_end = FULL_TURN.index("<function=read_file>") + len("<function=read_file>")
    for cut in range(len(FULL_TURN) + 1):
        raw = FULL_TURN[:cut]
        parsed = qwen_xml._parse(raw, TOOLS)
        assert_invariants(raw, parsed)
        if cut >= name_end:
            assert parsed.tool_calls[0].name == "read_file"
            assert parsed.reasoning == "Read, then fix."
    full = parse_turn(FULL_TURN, TOOLS)
    assert [c.repaired for c in full.tool_calls] == [None, None]
