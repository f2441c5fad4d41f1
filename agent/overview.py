"""A short overview of the repository for the planner: the tree's shape and project instructions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel

__all__ = ["Overview", "INSTRUCTION_FILES", "summarize_tree", "repo_overview"]

INSTRUCTION_FILES = ("AGENTS.md", "QWEN.md")
MAX_INSTRUCTION_CHARS = 8000


class Overview(BaseModel):
    text: str
    file_count: int
    instructions: str = ""
    instructions_file: str = ""


def summarize_tree(paths: Sequence[str], max_lines: int = 60) -> str:
    """Top-level entries with file counts; small trees are listed whole."""
    if len(paths) <= max_lines:
        return "\n".join(sorted(paths))
    counts = Counter(path.split("/", 1)[0] + ("/" if "/" in path else "") for path in paths)
    lines = [f"{name}  ({count} files)" if name.endswith("/") else name for name, count in sorted(counts.items())]
    if len(lines) > max_lines:
        lines = lines[:max_lines] + [f"... and {len(lines) - max_lines} more entries"]
    return "\n".join(lines)


def repo_overview(root: Path, paths: Sequence[str]) -> Overview:
    overview = Overview(text=summarize_tree(paths), file_count=len(paths))
    for name in INSTRUCTION_FILES:
        candidate = root / name
        if name in paths and candidate.is_file() and not candidate.is_symlink():
            overview.instructions = candidate.read_text(encoding="utf-8", errors="replace")[:MAX_INSTRUCTION_CHARS]
            overview.instructions_file = name
            break
    return overview
