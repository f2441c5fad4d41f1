"""Parse Qwen3 assistant output into reasoning, visible text and XML tool calls.

On well-formed output this behaves like vLLM's `qwen3` reasoning parser and `qwen3_coder`
tool parser: one leading and one trailing newline are removed from each parameter value, and
values are converted by the tool's JSON schema (integer, number, boolean, null; arrays and
objects via `json.loads`, then `ast.literal_eval`; anything else stays a string).

On broken output it never raises. Defects whose intent is unambiguous are repaired and named
in `ToolCall.repaired`; anything else becomes a `ToolCall` with `problem` set to a message for
the model. Every `<tool_call>` opening yields exactly one `ToolCall`.

Where a value ends. A parameter value runs to the *last* `</parameter>` before the next
plausible `<parameter=NAME>` tag (or the end of the function), so code that contains the
string `</parameter>` survives; a value without any close runs to that boundary (a repair).
Likewise a call's body ends at the last `</function>` / `</tool_call>` of its region. Known
limits, all rare in practice: a value that contains `<tool_call>`, `</think>` or a complete
`<parameter=NAME>` tag is cut there.

Like vLLM, `None`/`none` (Qwen3.5's templates wrote Python's `str`) mean null wherever the schema
allows null or is not a plain string. Deliberate differences from vLLM: a string-typed (or
schema-less) value "null" stays the string "null"; a boolean that is neither true nor false stays
a string (vLLM reads it as false) so that argument validation reports it instead of silently
running with false.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field
from qcode.agent.contracts import ToolCall

__all__ = ["ParsedTurn", "parse_turn", "render_tool_call", "split_reasoning"]

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
CALL_OPEN, CALL_CLOSE = "<tool_call>", "</tool_call>"
FUNC_OPEN, FUNC_CLOSE = "<function=", "</function>"
PARAM_CLOSE = "</parameter>"
PYTHON_NONE = ("None", "none")
"""Read as null wherever the schema allows null or is not a plain string (vLLM's `qwen3_coder` does)."""

_FUNC_TAG = re.compile(r"<function=([^\s<>]*)>")
_PARAM_TAG = re.compile(r"<parameter=([^\s<>]*)>")
_SECOND_FUNC = re.compile(r"</function>\s*<function=")
_IMPLICIT_THINK_END = re.compile(r"<tool_call>\s*<function=")
_BARE_FUNC = re.compile(r"^[ \t]*<function=[^\s<>]+>\s*(?:<parameter=|</function>)", re.M)
_QUOTE_CHARS = 120


class ParsedTurn(BaseModel):
    """One assistant turn, split into its parts."""

    text: str = ""
    """Visible text outside reasoning and tool calls: the stripped pieces, joined by blank lines."""
    reasoning: str = ""
    """The `<think>` content, stripped."""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    """One entry per `<tool_call>`; ids are `call_0`, `call_1`, … in order."""


@dataclass
class _Draft:
    """A tool call being assembled."""

    name: str = ""
    arguments: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None
    notes: list[str] = field(default_factory=list)

    def fail(self, what: str, snippet: str) -> _Draft:
        if self.problem is None:
            self.problem = _problem_text(what, snippet, self.name)
        return self

    def finish(self, call_id: str) -> ToolCall:
        repaired = "; ".join(self.notes) or None
        return ToolCall(
            id=call_id,
            name=self.name,
            arguments=self.arguments,
            problem=self.problem,
            repaired=repaired,
        )


# ---------------------------------------------------------------- public API


def parse_turn(raw: str, tools: Sequence[dict[str, Any]] = ()) -> ParsedTurn:
    """Split raw model output into text, reasoning and tool calls. Never raises."""
    try:
        return _parse(raw, tools)
    except Exception:  # last line of defence; the fuzz tests exercise _parse unguarded
        return _fallback(raw)


def render_tool_call(name: str, arguments: dict[str, Any]) -> str:
    """The XML a Qwen3 model emits for one call; non-string values are written as JSON."""
    lines = [CALL_OPEN, f"{FUNC_OPEN}{name}>"]
    for key, value in arguments.items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        lines += [f"<parameter={key}>", text, PARAM_CLOSE]
    lines += [FUNC_CLOSE, CALL_CLOSE]
    return "\n".join(lines)


def split_reasoning(raw: str) -> tuple[str, str]:
    """Return (reasoning, rest), unstripped.

    `<think>` counts only at the very start (after whitespace). Everything before the first
    `</think>` is reasoning, since the chat template may have opened `<think>` in the prompt.
    An opened but unclosed `<think>` is all reasoning, except that a `<tool_call>` followed by
    `<function=` ends it (Qwen3.5 can call a tool without closing its thinking, as vLLM notes).
    """
    stripped = raw.lstrip()
    opened = stripped.startswith(THINK_OPEN)
    body = stripped[len(THINK_OPEN) :] if opened else raw
    if THINK_CLOSE in body:
        reasoning, _, rest = body.partition(THINK_CLOSE)
        return reasoning, rest
    if not opened:
        return "", raw
    implicit_end = _IMPLICIT_THINK_END.search(body)
    if implicit_end is None:
        return body, ""
    return body[: implicit_end.start()], body[implicit_end.start() :]


# ---------------------------------------------------------------- turn level


def _parse(raw: str, tools: Sequence[dict[str, Any]]) -> ParsedTurn:
    reasoning, content = split_reasoning(raw)
    texts, calls = _split_calls(content, tools)
    text = "\n\n".join(piece.strip() for piece in texts if piece.strip())
    return ParsedTurn(text=text, reasoning=reasoning.strip(), tool_calls=calls)


def _split_calls(content: str, tools: Sequence[dict[str, Any]]) -> tuple[list[str], list[ToolCall]]:
    """Cut the content at each `<tool_call>` (or, if there is none, each bare function)."""
    if CALL_OPEN in content:
        head, *regions = content.split(CALL_OPEN)
        missing_open = False
    else:
        starts = [m.start() for m in _BARE_FUNC.finditer(content)]
        if not starts:
            return [content], []
        bounds = [*starts, len(content)]
        head = content[: starts[0]]
        regions = [content[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
        missing_open = True
    texts: list[str] = [head]
    calls: list[ToolCall] = []
    for index, region in enumerate(regions):
        draft, trailing = _parse_region(region, tools)
        if missing_open:
            draft.notes.insert(0, "added missing <tool_call>")
        calls.append(draft.finish(f"call_{index}"))
        texts.append(trailing)
    return texts, calls


def _parse_region(region: str, tools: Sequence[dict[str, Any]]) -> tuple[_Draft, str]:
    """Parse the text after one `<tool_call>`; return the call and the text that follows it."""
    close = region.rfind(CALL_CLOSE)
    body, after = (region[:close], region[close + len(CALL_CLOSE) :]) if close >= 0 else (region, "")
    if body.lstrip().startswith("{"):
        draft, leftover = _parse_json_call(body.lstrip(), tools)
    else:
        draft, leftover = _parse_function(body, tools)
    if close < 0 and draft.problem is None:
        draft.notes.append("added missing </tool_call>")
    return draft, leftover + after


# ---------------------------------------------------------------- one call


def _parse_function(body: str, tools: Sequence[dict[str, Any]]) -> tuple[_Draft, str]:
    draft = _Draft()
    start = body.find(FUNC_OPEN)
    if start < 0:
        what = "the <tool_call> is empty" if not body.strip() else "no <function=NAME> tag"
        return draft.fail(what, CALL_OPEN + body), ""
    tag = _FUNC_TAG.match(body, start)
    if tag is None:
        return draft.fail("malformed <function=NAME> tag", body[start:]), ""
    draft.name = tag.group(1)
    if not draft.name:
        return draft.fail("empty function name", tag.group(0)), ""
    if body[:start].strip():
        draft.notes.append("ignored text before <function=...>")
    end = body.rfind(FUNC_CLOSE, tag.end())
    if end < 0:
        inner, leftover = body[tag.end() :], ""
        draft.notes.append("added missing </function>")
    else:
        inner, leftover = body[tag.end() : end], body[end + len(FUNC_CLOSE) :]
    second = _SECOND_FUNC.search(inner)
    if second is not None:
        return draft.fail("two functions in one <tool_call>", inner[second.start() :]), leftover
    _parse_parameters(inner, _properties(tools, draft.name), draft)
    return draft, leftover


def _parse_parameters(inner: str, props: dict[str, Any], draft: _Draft) -> None:
    """Fill draft.arguments from the text between `<function=NAME>` and `</function>`."""
    if _PARAM_TAG.search(inner) is None and inner.strip().startswith("{"):
        _parse_json_arguments(inner.strip(), props, draft)
        return
    pos = 0
    while draft.problem is None:
        tag = _PARAM_TAG.search(inner, pos)
        stray = inner[pos : tag.start() if tag else len(inner)]
        if stray.strip():
            draft.fail("text outside <parameter=KEY>...</parameter> tags", stray.strip())
            return
        if tag is None:
            return
        pos = _parse_parameter(inner, tag, props, draft)


def _parse_parameter(inner: str, tag: re.Match[str], props: dict[str, Any], draft: _Draft) -> int:
    """Read one parameter into draft; return the position after it."""
    key = tag.group(1)
    following = _PARAM_TAG.search(inner, tag.end())
    limit = following.start() if following else len(inner)
    close = inner.rfind(PARAM_CLOSE, tag.end(), limit)
    if close < 0:
        value, pos = inner[tag.end() : limit], limit
        draft.notes.append(f"closed <parameter={key}>")
    else:
        value, pos = inner[tag.end() : close], close + len(PARAM_CLOSE)
    if not key:
        draft.fail("a parameter with an empty name", tag.group(0))
    elif key in draft.arguments:
        draft.fail(f"parameter {key!r} given twice", tag.group(0))
    else:
        draft.arguments[key] = _convert_text(_strip_one_newline(value), key, props, draft)
    return pos


def _parse_json_call(text: str, tools: Sequence[dict[str, Any]]) -> tuple[_Draft, str]:
    """A Hermes/Qwen2.5-style `{"name": ..., "arguments": {...}}` inside `<tool_call>`."""
    draft = _Draft()
    try:
        obj, end = json.JSONDecoder().raw_decode(text)
    except (ValueError, RecursionError):
        return draft.fail("the JSON inside <tool_call> is not valid", text), ""
    name = obj.get("name") if isinstance(obj, dict) else None
    if not isinstance(name, str) or not name.strip():
        return draft.fail("the JSON tool call has no name", text[:end]), text[end:]
    draft.name = name.strip()
    arguments = obj.get("arguments", obj.get("parameters", {}))
    draft.notes.append("converted a JSON-style tool call")
    _fill_typed_arguments(arguments, _properties(tools, draft.name), draft, text[:end])
    return draft, text[end:]


def _parse_json_arguments(text: str, props: dict[str, Any], draft: _Draft) -> None:
    """A JSON object where `<parameter=...>` tags were expected."""
    try:
        arguments, end = json.JSONDecoder().raw_decode(text)
    except (ValueError, RecursionError):
        draft.fail("text outside <parameter=KEY>...</parameter> tags", text)
        return
    if text[end:].strip():
        draft.fail("text outside <parameter=KEY>...</parameter> tags", text[end:].strip())
        return
    draft.notes.append("read JSON arguments inside <function>")
    _fill_typed_arguments(arguments, props, draft, text)


def _fill_typed_arguments(arguments: Any, props: dict[str, Any], draft: _Draft, src: str) -> None:
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except (ValueError, RecursionError):
            pass
    if not isinstance(arguments, dict):
        draft.fail("the arguments are not a JSON object", src)
        return
    for key, value in arguments.items():
        draft.arguments[str(key)] = _coerce_typed(value, str(key), props, draft)


# ---------------------------------------------------------------- values and schemas


def _strip_one_newline(value: str) -> str:
    if value.startswith("\n"):
        value = value[1:]
    if value.endswith("\n"):
        value = value[:-1]
    return value


def _properties(tools: Sequence[dict[str, Any]], name: str) -> dict[str, Any]:
    """The `properties` of the named tool's parameter schema, or {} if unknown."""
    for tool in tools or ():
        function = tool.get("function", tool) if isinstance(tool, dict) else None
        if isinstance(function, dict) and function.get("name") == name:
            params = function.get("parameters")
            props = params.get("properties") if isinstance(params, dict) else None
            return props if isinstance(props, dict) else {}
    return {}


def _schema_types(prop: Any, depth: int = 0) -> set[str]:
    """JSON-schema types a property allows, looking through anyOf/oneOf/allOf and $ref."""
    if not isinstance(prop, dict) or depth > 8:
        return set()
    kind = prop.get("type")
    kinds = [kind] if isinstance(kind, str) else kind if isinstance(kind, list) else []
    found = {k.lower() for k in kinds if isinstance(k, str)}
    for key in ("anyOf", "oneOf", "allOf"):
        subs = prop.get(key)
        for sub in subs if isinstance(subs, list) else []:
            found |= _schema_types(sub, depth + 1)
    if not found and "$ref" in prop:
        found.add("object")
    return found


def _convert_text(text: str, key: str, props: dict[str, Any], draft: _Draft) -> Any:
    """Convert one XML value by the schema; note repairs of non-canonical forms."""
    types = _schema_types(props.get(key))
    if not types or types == {"string"}:
        return text
    stripped = text.strip()
    if stripped.lower() == "null" or stripped in PYTHON_NONE:
        return None  # as vLLM reads it: a model trained on Qwen3.5's `str`-rendered history writes None
    for kind, convert in _CONVERTERS:
        if kind in types:
            ok, value, note = convert(stripped)
            if ok:
                if note:
                    draft.notes.append(f"{key}: {note}")
                return value
    return text


def _coerce_typed(value: Any, key: str, props: dict[str, Any], draft: _Draft) -> Any:
    """Coerce a JSON-given string (or integral float) to the schema's non-string type."""
    types = _schema_types(props.get(key))
    if isinstance(value, float) and "integer" in types and value.is_integer():
        draft.notes.append(f"{key}: {value!r} read as integer")
        return int(value)
    if not isinstance(value, str) or not types or "string" in types:
        return value
    converted = _convert_text(value, key, props, draft)
    if not isinstance(converted, str):
        draft.notes.append(f"{key}: string {value[:_QUOTE_CHARS]!r} converted by schema")
    return converted


def _unquote(text: str) -> str | None:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1].strip()
    return None


def _to_integer(text: str) -> tuple[bool, Any, str | None]:
    try:
        return True, int(text), None
    except ValueError:
        pass
    inner = _unquote(text)
    if inner is not None:
        ok, value, _ = _to_integer(inner)
        return ok, value, f"unquoted integer {text[:_QUOTE_CHARS]!r}" if ok else None
    try:
        number = float(text)
    except ValueError:
        return False, None, None
    if number.is_integer():
        return True, int(number), f"{text[:_QUOTE_CHARS]!r} read as integer"
    return False, None, None


def _to_number(text: str) -> tuple[bool, Any, str | None]:
    try:
        number = float(text)
    except ValueError:
        inner = _unquote(text)
        if inner is None:
            return False, None, None
        ok, value, _ = _to_number(inner)
        return ok, value, f"unquoted number {text[:_QUOTE_CHARS]!r}" if ok else None
    return True, int(number) if number.is_integer() else number, None


def _to_boolean(text: str) -> tuple[bool, Any, str | None]:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return True, lowered == "true", None
    inner = _unquote(lowered)
    if inner in ("true", "false"):
        return True, inner == "true", f"unquoted boolean {text[:_QUOTE_CHARS]!r}"
    return False, None, None


def _json_converter(expected: type) -> Callable[[str], tuple[bool, Any, str | None]]:
    def convert(text: str) -> tuple[bool, Any, str | None]:
        for load in (json.loads, ast.literal_eval):
            try:
                value = load(text)
            except Exception:  # literal_eval raises many kinds; all mean "not this form"
                continue
            if isinstance(value, expected):
                return True, value, None
        return False, None, None

    return convert


_CONVERTERS: list[tuple[str, Callable[[str], tuple[bool, Any, str | None]]]] = [
    ("integer", _to_integer),
    ("number", _to_number),
    ("boolean", _to_boolean),
    ("array", _json_converter(list)),
    ("object", _json_converter(dict)),
]


# ---------------------------------------------------------------- messages for the model


def _problem_text(what: str, snippet: str, name: str) -> str:
    shown = snippet.strip()
    if len(shown) > _QUOTE_CHARS:
        shown = shown[:_QUOTE_CHARS] + "…"
    example = render_tool_call(name or "TOOL_NAME", {"KEY": "VALUE"})
    return (
        f"Your tool call could not be parsed ({what}): {shown!r}. Nothing was run. "
        f"Write each call in its own block, one <parameter> per argument:\n{example}"
    )


def _fallback(raw: object) -> ParsedTurn:
    text = raw if isinstance(raw, str) else ""
    problem = _problem_text("internal parser error", "", "")
    calls = [ToolCall(id=f"call_{i}", name="", problem=problem) for i in range(text.count(CALL_OPEN))]
    return ParsedTurn(text=text.strip(), tool_calls=calls)
