"""The decoding constraint that makes Qwen3 XML tool calls well-formed by construction.

Built on xgrammar's own Qwen3.5/3.6 structural tag (`qwen_3_5`: `<tool_call>\\n<function=NAME>\\n`,
one `<parameter=KEY>` per argument checked against the tool's JSON schema, then
`\\n</function>\\n</tool_call>`), with two changes that close the gaps a model could slip through:

- the trigger is `<tool_call>` itself, not `<tool_call>\\n<function=`, so any `<tool_call>` the
  model opens must continue into a real tool's call (the stock trigger lets a bare `<tool_call>`
  through as free text, which the parser would then report as a broken call);
- free text may not contain the XML pieces of a call (`<function=`, `</parameter>`, …), which
  our parser would otherwise read as a call without its `<tool_call>`;
- argument values may not contain `<tool_call>`, `</think>` or `<parameter=`, where the parsers
  (ours and vLLM's) would cut the value.

Free text and reasoning stay free: the constraint covers only the answer after `</think>`, and
outside a call it only forbids those few markers.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from typing import Any, Literal

from qcode.agent.qwen_xml import PYTHON_NONE

__all__ = ["ToolChoice", "accept_python_none", "cap_arguments", "structural_tag"]

ToolChoice = Literal["auto", "required"]
CALL_TRIGGER = "<tool_call>"
FREE_TEXT_EXCLUDES = [
    "<think>",
    "</think>",
    "</tool_call>",
    "<function=",
    "</function>",
    "<parameter=",
    "</parameter>",
]
VALUE_EXCLUDES = ["<tool_call>", "</think>", "<parameter="]
"""Kept out of argument values: our parser (like vLLM's) would cut a value there."""
STRING_UNIT = "(?:[^<]|<+[^</tp])"
"""One character of a capped string, never starting `</`, `<t…` or `<p…` (the closing tag and
VALUE_EXCLUDES stay unambiguous)."""
MAX_ARGUMENT_CAP = 128
"""Largest `max_argument_chars`. xgrammar 0.2.8 with its compile cache (as vLLM runs it) fails on
a repetition bound above 128 ("per_rule_fsm_hashes … has_value() is false"), and nesting bounds
to go further makes each token's mask slow to compute."""
MAX_ITEMS = 8
"""With capped arguments, arrays are capped too: an untrained model would never close one."""
MAX_WHITESPACE = 16
"""Whitespace allowed between the XML parts: enough for indented JSON values, not for a run-away."""
CAPPED_WHITESPACE = 2
"""…and with capped arguments: a run of whitespace is cheap text for an untrained model."""


def cap_arguments(schema: dict[str, Any], max_chars: int) -> dict[str, Any]:
    """A copy of a tool's parameter schema where every string argument is at most `max_chars` long.

    Arrays get at most MAX_ITEMS items. Strings that already set a smaller `maxLength` keep it;
    strings with their own `pattern` are left alone. Capped strings may not contain `</`, `<t` or
    `<p` (see STRING_UNIT). Looks into `anyOf`/`oneOf` branches, array items and nested
    properties, so optional arguments are covered.
    """
    capped = copy.deepcopy(schema)
    _cap(capped, max_chars, depth=0)
    return capped


def capped_string_pattern(limit: int) -> str:
    """A regex for a string of at most `limit` (≤ MAX_ARGUMENT_CAP) units."""
    return f"^{STRING_UNIT}{{0,{min(limit, MAX_ARGUMENT_CAP)}}}<*$"


def _cap(node: Any, max_chars: int, depth: int) -> None:
    if not isinstance(node, dict) or depth > 16:
        return
    kind = node.get("type")
    if (kind == "string" or (isinstance(kind, list) and "string" in kind)) and "pattern" not in node:
        # A bounded string must still not contain `</parameter>`; xgrammar's `maxLength` allows any
        # character, so the bound goes into a pattern that also keeps `</` out of the value.
        limit = min(int(node.pop("maxLength", max_chars)), max_chars)
        node["pattern"] = capped_string_pattern(limit)
    children: list[Any] = []
    for key in ("anyOf", "oneOf", "allOf"):
        children += node.get(key) or []
    children += list((node.get("properties") or {}).values())
    children += list((node.get("$defs") or {}).values())
    if kind == "array" or "items" in node:
        node["maxItems"] = min(int(node.get("maxItems", MAX_ITEMS)), MAX_ITEMS)
    if isinstance(node.get("items"), dict):
        children.append(node["items"])
    for child in children:
        _cap(child, max_chars, depth + 1)


def accept_python_none(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of a tool's parameter schema where every argument that may be null may also be written
    `None` or `none`, as a model trained on Qwen3.5's `str`-rendered history does and as the parser
    (like vLLM's) reads it. Other arguments are unchanged: there `None` would not validate."""
    widened = copy.deepcopy(schema)
    for prop in (widened.get("properties") or {}).values():
        branches = prop.get("anyOf") if isinstance(prop, dict) else None
        if isinstance(branches, list) and {"type": "null"} in branches:
            branches.append({"type": "string", "enum": list(PYTHON_NONE)})
    return widened


def _function_tools(tools: Sequence[dict[str, Any]], max_chars: int | None) -> list[Any]:
    found: list[Any] = []
    for tool in tools:
        function = tool.get("function", tool)
        parameters = accept_python_none(function.get("parameters") or {"type": "object", "properties": {}})
        if max_chars is not None:
            parameters = cap_arguments(parameters, max_chars)
        found.append({"type": "function", "function": {"name": function["name"], "parameters": parameters}})
    return found


def structural_tag(
    tools: Sequence[dict[str, Any]], tool_choice: ToolChoice = "auto", max_argument_chars: int | None = None
) -> str:
    """The `StructuredOutputsParams.structural_tag` JSON for an answer that starts after `</think>`.

    `auto`: free text with any number of well-formed calls. `required`: the answer is exactly one
    well-formed call (used when the caller wants a call every turn, e.g. an untrained model).
    `max_argument_chars` caps every string argument (a guard against run-away generation).
    """
    from xgrammar.builtin_structural_tag import get_model_structural_tag
    from xgrammar.structural_tag import JSONSchemaFormat, TriggeredTagsFormat

    tag = get_model_structural_tag(
        "qwen_3_5",
        tools=_function_tools(tools, max_argument_chars),
        tool_choice=tool_choice,
        reasoning="disabled",
        parallel_tool_calls=tool_choice == "auto",
        max_whitespace_cnt=MAX_WHITESPACE if max_argument_chars is None else CAPPED_WHITESPACE,
    )
    triggered = tag.format
    if not isinstance(triggered, TriggeredTagsFormat):
        raise ValueError(f"unexpected structural tag shape from xgrammar: {type(triggered).__name__}")
    triggered.triggers = [CALL_TRIGGER]
    for call in triggered.tags:
        if isinstance(call.content, JSONSchemaFormat):
            call.content.excludes = list(VALUE_EXCLUDES)
    triggered.excludes = sorted(set(triggered.excludes) | set(FREE_TEXT_EXCLUDES))
    return json.dumps(tag.model_dump(mode="json"))
