"""The `repo_map` tool: the executor asks for the repository map again, with its own focus."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from qcode.agent.contracts import Observation
from qcode.agent.exceptions import GitError, ToolError, UserError
from qcode.tools.registry import Tool, ToolContext

__all__ = ["REPO_MAP", "RepoMapArgs", "repo_map_tool"]

REPO_MAP = "repo_map"


class RepoMapArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    focus: str | None = Field(
        None,
        description="What to look for: identifiers (e.g. 'QuerySet.select_related'), "
        "file names or a sentence from the task.",
    )
    tokens: int = Field(1024, ge=64, le=16384, description="Size of the map in tokens.")


def _run(args: RepoMapArgs, ctx: ToolContext) -> Observation:
    from qcode.tools.repomap import build_repo_map  # tree-sitter and numpy load on first use

    try:
        repo_map = build_repo_map(ctx.workspace, focus=args.focus or "", tokens=args.tokens)
    except (UserError, GitError) as err:
        raise ToolError(str(err)) from None
    if not repo_map.text:
        text = "The repository has no source files with a supported language (or none fit the budget)."
    else:
        text = repo_map.text
    if repo_map.notes:
        text += "\n[notes: " + "; ".join(repo_map.notes) + "]"
    return Observation(
        text=text, data={"files": repo_map.files, "notes": repo_map.notes, "stats": repo_map.stats}
    )


def repo_map_tool() -> Tool:
    return Tool(
        REPO_MAP,
        "Ranked map of the repository: the files most relevant to `focus`, each with its key class "
        "and function signatures and line numbers. Use it to decide what to read.",
        RepoMapArgs,
        _run,
        effect="read",
    )
