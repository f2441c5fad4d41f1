"""A short overview of the repository for the planner: the tree's shape and project instructions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel
from qcode.agent.exceptions import QcodeError

__all__ = ["Overview", "INSTRUCTION_FILES", "summarize_tree", "repo_overview"]

INSTRUCTION_FILES = ("AGENTS.md", "QWEN.md")
MAX_INSTRUCTION_CHARS = 8000


class Overview(BaseModel):
    text: str
    file_count: int
    repo_map: str = ""
    """The files that matter most for the task, with their signatures (tree-sitter, PageRank)."""
    instructions: str = ""
    instructions_file: str = ""


def summarize_tree(paths: Sequence[str], max_lines: int = 60) -> str:
    """Top-level entries with file counts; small trees are listed whole."""
    if len(paths) <= max_lines:
        return "\n".join(sorted(paths))
    counts = Counter(path.split("/", 1)[0] + ("/" if "/" in path else "") for path in paths)
    lines = [
        f"{name}  ({count} files)" if name.endswith("/") else name for name, count in sorted(counts.items())
    ]
    if len(lines) > max_lines:
        lines = lines[:max_lines] + [f"... and {len(lines) - max_lines} more entries"]
    return "\n".join(lines)


def repo_overview(root: Path, paths: Sequence[str], focus: str = "", map_tokens: int = 1536) -> Overview:
    overview = Overview(
        text=summarize_tree(paths), file_count=len(paths), repo_map=_repo_map(root, focus, map_tokens)
    )
    for name in INSTRUCTION_FILES:
        candidate = root / name
        if name in paths and candidate.is_file() and not candidate.is_symlink():
            overview.instructions = candidate.read_text(encoding="utf-8", errors="replace")[
                :MAX_INSTRUCTION_CHARS
            ]
            overview.instructions_file = name
            break
    return overview


def _repo_map(root: Path, focus: str, tokens: int) -> str:
    """The map is a help, not a requirement: a failure to build it leaves the planner without it."""
    from qcode.tools.repomap import build_repo_map

    try:
        return build_repo_map(root, focus=focus, tokens=tokens).text
    except QcodeError:
        return ""
