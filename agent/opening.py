"""What a session says when it opens: its first notices and the task prompt of its first run."""

from __future__ import annotations

from qcode.agent.events import Notice
from qcode.agent.overview import repo_overview
from qcode.agent.workspace import Workspace
from qcode.prompts import defuse, render

__all__ = ["opening_notices", "task_prompt"]


def opening_notices(dirty: bool, notes: list[str]) -> list[Notice]:
    """A warning for a checkout with uncommitted changes, then the engine's and workspace's notes."""
    notices = []
    if dirty:
        notices.append(
            Notice(
                level="warning",
                text="the repository has uncommitted changes; qcode works "
                "from HEAD and leaves your changes untouched",
            )
        )
    return notices + [Notice(level="info", text=note) for note in notes]


def task_prompt(workspace: Workspace, task: str, hook_context: str = "") -> str:
    """The first run's input: the issue, the tree's shape, the repo map for the issue, AGENTS.md."""
    overview = repo_overview(workspace.path, workspace.tracked_files(), focus=task)
    if hook_context:  # the user's session_start hooks: their own context for the model
        task = f"{task}\n\n(from the user's session_start hook)\n{hook_context}"
    return render(
        "task",
        task=defuse(task, tags=("issue",)),  # a pasted `</issue>` cannot end the block early
        overview=overview.text,
        file_count=overview.file_count,
        repo_map=overview.repo_map,
        instructions=overview.instructions,
        instructions_file=overview.instructions_file,
    )
