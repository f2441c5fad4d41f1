"""The tool-call constraint, checked with xgrammar's matcher over the tiny model's tokenizer."""

from __future__ import annotations

from pathlib import Path

import pytest
from qcode.agent.engines.vllm_grammar import MAX_ARGUMENT_CAP, cap_arguments, structural_tag
from qcode.agent.qwen_xml import render_tool_call
from qcode.tools.builtin import default_registry

TOOLS = default_registry().schemas()


@pytest.fixture(scope="module")
def compiler(tiny_model_dir: Path):  # type: ignore[no-untyped-def]
    import xgrammar as xgr
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    return xgr.GrammarCompiler(xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=len(tokenizer)))


def accepts(compiler, spec: str, text: str) -> bool:  # type: ignore[no-untyped-def]
    import xgrammar as xgr

    return bool(xgr.GrammarMatcher(compiler.compile_structural_tag(spec)).accept_string(text))


GOOD = render_tool_call("read_file", {"path": "a.py", "start_line": 3})
PLAN = render_tool_call("update_plan", {"plan": [{"step": "fix", "status": "in_progress"}]})


@pytest.mark.parametrize(
    "text", ["Let me look.", "plain text\n\nmore", f"Reading it.\n\n{GOOD}", GOOD, f"{GOOD}\n{PLAN}"]
)
def test_auto_keeps_text_free_and_takes_wellformed_calls(compiler, text: str) -> None:  # type: ignore[no-untyped-def]
    assert accepts(compiler, structural_tag(TOOLS, "auto"), text)


@pytest.mark.parametrize(
    "text",
    [
        render_tool_call("no_such_tool", {"path": "a.py"}),  # unknown tool
        render_tool_call("read_file", {"path": "a.py", "start_line": "x"}),  # wrong type
        render_tool_call("read_file", {"start_line": 3}),  # missing required argument
        render_tool_call("read_file", {"path": "a.py", "colour": "red"}),  # unknown argument
        render_tool_call("update_plan", {"plan": [{"step": "a", "status": "maybe"}]}),  # enum
        "<tool_call>junk",  # a bare opening
        render_tool_call("write_file", {"path": "a.md", "content": "see <tool_call> here"}),  # cut by parsers
        render_tool_call("write_file", {"path": "a.md", "content": "x <parameter=path> y"}),
        "<function=read_file>\n<parameter=path>\na.py\n</parameter>\n</function>",  # a call without its tag
    ],
)
def test_auto_refuses_every_malformed_call(compiler, text: str) -> None:  # type: ignore[no-untyped-def]
    assert not accepts(compiler, structural_tag(TOOLS, "auto"), text)


def test_required_starts_with_exactly_one_call(compiler) -> None:  # type: ignore[no-untyped-def]
    spec = structural_tag(TOOLS, "required")
    assert accepts(compiler, spec, GOOD)
    assert not accepts(compiler, spec, "Let me look.")
    assert not accepts(compiler, spec, f"{GOOD}\n{PLAN}")


def test_argument_cap_bounds_strings_and_keeps_the_close_tag_unambiguous(compiler) -> None:  # type: ignore[no-untyped-def]
    spec = structural_tag(TOOLS, "required", max_argument_chars=10)
    assert accepts(compiler, spec, render_tool_call("shell", {"command": "ls -la"}))
    assert not accepts(compiler, spec, render_tool_call("shell", {"command": "x" * 30}))
    swallowed = "<tool_call>\n<function=read_file>\n<parameter=path>\na</parameter><parameter=path>"
    assert not accepts(compiler, spec, swallowed)
    assert not accepts(compiler, spec, render_tool_call("shell", {"command": "a<tool_call>"}))
    assert accepts(compiler, spec, render_tool_call("shell", {"command": "a < b"}))


def test_the_largest_cap_compiles_and_bounds(compiler) -> None:  # type: ignore[no-untyped-def]
    spec = structural_tag(TOOLS, "required", max_argument_chars=MAX_ARGUMENT_CAP)
    assert accepts(compiler, spec, render_tool_call("shell", {"command": "x" * MAX_ARGUMENT_CAP}))
    assert not accepts(compiler, spec, render_tool_call("shell", {"command": "x" * (MAX_ARGUMENT_CAP + 1)}))


def test_cap_reaches_optional_and_nested_strings() -> None:
    schema = cap_arguments(TOOLS[1]["function"]["parameters"], 7)  # list_files: anyOf [string, null]
    assert "{0,7}" in schema["properties"]["path"]["anyOf"][0]["pattern"]
    plan = cap_arguments(
        next(t for t in TOOLS if t["function"]["name"] == "update_plan")["function"]["parameters"], 5
    )
    assert "{0,5}" in plan["$defs"]["PlanStep"]["properties"]["step"]["pattern"]
    assert plan["properties"]["plan"]["maxItems"] == 8


def test_capped_arrays_must_close(compiler) -> None:  # type: ignore[no-untyped-def]
    spec = structural_tag(TOOLS, "required", max_argument_chars=10)
    steps = [{"step": "s", "status": "done"}]
    assert accepts(compiler, spec, render_tool_call("update_plan", {"plan": steps * 8}))
    assert not accepts(compiler, spec, render_tool_call("update_plan", {"plan": steps * 9}))


def none_end_line(value: str) -> str:
    return (
        "<tool_call>\n<function=read_file>\n<parameter=path>\na.py\n</parameter>\n"
        f"<parameter=end_line>\n{value}\n</parameter>\n</function>\n</tool_call>"
    )


@pytest.mark.parametrize("cap", [None, 10])
def test_python_none_is_accepted_where_null_is(compiler, cap: int | None) -> None:  # type: ignore[no-untyped-def]
    spec = structural_tag(TOOLS, "auto", max_argument_chars=cap)
    assert accepts(compiler, spec, none_end_line("None"))
    assert accepts(compiler, spec, none_end_line("none"))
    assert accepts(compiler, spec, none_end_line("null"))
    assert not accepts(compiler, spec, none_end_line("Nonsense"))
    # where null is not allowed, None is not either (it would only fail validation)
    flag = render_tool_call("edit_file", {"path": "a", "old_text": "x", "new_text": "y", "replace_all": True})
    assert accepts(compiler, spec, flag)
    assert not accepts(compiler, spec, flag.replace("\ntrue\n", "\nNone\n"))
