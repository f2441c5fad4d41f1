"""The `find_symbol` and `references` tools (read-only): answers from the repo map's tag index."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from qcode.agent.contracts import Observation
from qcode.agent.exceptions import GitError, ToolError, UserError
from qcode.tools import paths
from qcode.tools.registry import Tool, ToolContext
from qcode.tools.repomap.tags import FileTags
from qcode.tools.symbols import (
    MAX_REF_FILES,
    MAX_REF_LINES,
    SymbolName,
    parse_name,
    rank_definitions,
    rank_reference_files,
    reference_lines,
    render_definitions,
    suggestions,
)

__all__ = ["FIND_SYMBOL", "REFERENCES", "SymbolArgs", "symbol_tools"]

FIND_SYMBOL = "find_symbol"
REFERENCES = "references"


class SymbolArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        max_length=200, description="A bare name ('total') or a method of a class ('Cart.total')."
    )
    path: str | None = Field(None, description="Only look in this file or folder; default: everywhere.")


def _index(args: SymbolArgs, ctx: ToolContext) -> tuple[SymbolName, str, dict[str, FileTags]]:
    from qcode.tools.repomap.build import load_tags  # tree-sitter loads on first use

    symbol = parse_name(args.name)
    under = ""
    if args.path:  # the same refusals as every file tool
        real = paths.resolve_in_workspace(ctx.workspace, args.path, must_exist=True)
        under = paths.workspace_relative(ctx.workspace, real)
    try:
        tags, _notes = load_tags(ctx.workspace)
    except (UserError, GitError) as err:
        raise ToolError(str(err)) from None
    return symbol, under, tags


def _find_symbol(args: SymbolArgs, ctx: ToolContext) -> Observation:
    symbol, under, tags = _index(args, ctx)
    ranked, exact = rank_definitions(tags, symbol, under)
    if not ranked:
        close = suggestions(tags, symbol)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        return Observation(
            text=f"No definition of `{symbol}` in the tag index{_where(under)}.{hint} "
            "(The index holds classes, functions and methods; use `search` for variables and text.)",
            data={"results": [], "suggestions": close},
        )
    text, results = render_definitions(ranked, len(ranked))
    head = f"`{symbol}`: {len(ranked)} definition{'s, best first' if len(ranked) != 1 else ''}"
    if not exact:
        head = f"No `{symbol}`; `{symbol.name}` is defined here instead, best first:"
    return Observation(text=f"{head}\n{text}", data={"results": results})


def _references(args: SymbolArgs, ctx: ToolContext) -> Observation:
    symbol, under, tags = _index(args, ctx)
    files = rank_reference_files(tags, symbol, under)
    if not files:
        return Observation(
            text=f"No references to `{symbol.name}` in the tag index{_where(under)} "
            "(calls, attributes, imports, types). Use `search` for other text.",
            data={"results": []},
        )
    total = sum(uses for _, uses in files)
    out = [f"`{symbol.name}` is referenced {total} times in {len(files)} files, most relevant first:"]
    if symbol.scope:
        out[0] += f" (matched by name; files that also name `{symbol.scope}` come first)"
    results = []
    for path, uses in files[:MAX_REF_FILES]:
        lines = reference_lines(ctx.workspace, path, symbol.name)
        out.append(f"{path} ({uses} use{'s' if uses != 1 else ''})")
        out += [f"  {number}: {text}" for number, text in lines[:MAX_REF_LINES]]
        if len(lines) > MAX_REF_LINES:
            out.append(f"  [… {len(lines) - MAX_REF_LINES} more in this file]")
        results.append({"path": path, "uses": uses, "lines": [n for n, _ in lines[:MAX_REF_LINES]]})
    if len(files) > MAX_REF_FILES:
        out.append(f"[{len(files) - MAX_REF_FILES} more files; narrow with path=]")
    return Observation(text="\n".join(out), data={"results": results})


def _where(under: str) -> str:
    return f" under {under}" if under else ""


def symbol_tools() -> list[Tool]:
    return [
        Tool(
            FIND_SYMBOL,
            "Where a class, function or method is defined (file:line, kind, signature), best match "
            "first. `name` is a bare name or 'Class.method'. Read-only; faster than search for definitions.",
            SymbolArgs,
            _find_symbol,
            effect="read",
        ),
        Tool(
            REFERENCES,
            "Where a name is used (calls, attributes, imports, types): files ranked by relevance, "
            "with line numbers. `name` is a bare name or 'Class.method'. Read-only.",
            SymbolArgs,
            _references,
            effect="read",
        ),
    ]
