"""The fixed tool API of the design card: argument models and the functions behind them."""

from __future__ import annotations

import functools

from pydantic import BaseModel, ConfigDict, Field
from qcode.agent.contracts import Effect, Observation, PlanStep
from qcode.agent.exceptions import ToolError
from qcode.tools import files, paths, search
from qcode.tools.checks import with_report
from qcode.tools.registry import Tool, ToolContext, ToolRegistry
from qcode.tools.repomap_tool import repo_map_tool
from qcode.tools.symbols_tool import symbol_tools

__all__ = ["builtin_effect", "default_registry", "FINISH", "UPDATE_PLAN"]

FINISH = "finish"
UPDATE_PLAN = "update_plan"


@functools.cache
def _builtin() -> ToolRegistry:
    return default_registry()


def builtin_effect(name: str) -> Effect:
    """A built-in tool's declared effect (anything else counts as running commands), for callers
    that see only tool names: recovery's checkpoints, the TUI's cards of a resumed session."""
    return _builtin().effect_of(name)


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReadFileArgs(_Args):
    path: str = Field(description="File path relative to the repository root, e.g. 'src/app.py'.")
    start_line: int | None = Field(None, ge=1, description="First line to show (1-based).")
    end_line: int | None = Field(None, ge=1, description="Last line to show (inclusive).")


class ListFilesArgs(_Args):
    path: str | None = Field(None, description="Folder relative to the repository root; default: the root.")
    pattern: str | None = Field(None, description="Glob to filter file names, e.g. '*.py'.")


class SearchArgs(_Args):
    pattern: str = Field(description="Regular expression (ripgrep syntax).")
    path: str | None = Field(None, description="File or folder to search; default: the whole repository.")
    glob: str | None = Field(None, description="Only files matching this glob, e.g. '*.py'.")


class EditFileArgs(_Args):
    path: str = Field(description="File to edit, relative to the repository root.")
    old_text: str = Field(
        description="The exact lines to replace, copied from the file (a few lines of context)."
    )
    new_text: str = Field(description="The replacement lines.")
    replace_all: bool = Field(False, description="Replace every occurrence instead of exactly one.")


class WriteFileArgs(_Args):
    path: str = Field(description="File to create or overwrite, relative to the repository root.")
    content: str = Field(description="The whole new content of the file.")


class ShellArgs(_Args):
    command: str = Field(
        description="A bash command, run in /workspace in a persistent shell (cd and export persist)."
    )
    timeout: float | None = Field(None, gt=0, le=3600, description="Seconds before the command is killed.")


class GitDiffArgs(_Args):
    path: str | None = Field(None, description="Limit the diff to this path.")


class UpdatePlanArgs(_Args):
    plan: list[PlanStep] = Field(
        description="The whole plan, in order: [{step, status}], status one of pending, in_progress, done."
    )


class FinishArgs(_Args):
    summary: str = Field(description="What you changed and how you verified it.")


def _read_file(args: ReadFileArgs, ctx: ToolContext) -> Observation:
    text = files.read_file(ctx.workspace, args.path, args.start_line, args.end_line)
    return Observation(text=with_header(read_header(args.path, text), text), data={"path": args.path})


def read_header(path: str, text: str) -> str:
    """`a.py, lines 3-40:` from the numbered lines (just the path when nothing is numbered).

    Qwen's template trims each tool result, which would eat the first line's leading whitespace
    (read_file's right-aligned line numbers, a command's indented output): a header goes first."""
    numbers = [line.split("\t", 1)[0].strip() for line in text.split("\n") if "\t" in line]
    numbers = [n for n in numbers if n.isdigit()]
    return f"{path}, lines {numbers[0]}-{numbers[-1]}:" if numbers else f"{path}:"


def with_header(header: str, text: str) -> str:
    return f"{header}\n{text}"


def _list_files(args: ListFilesArgs, ctx: ToolContext) -> Observation:
    return Observation(text=files.list_files(ctx.workspace, args.path, args.pattern))


def _search(args: SearchArgs, ctx: ToolContext) -> Observation:
    return Observation(text=search.search(ctx.workspace, args.pattern, args.path, args.glob))


# Edits freeze the sandbox only around the change itself: the diagnostics that follow may run a lint
# command in the sandbox, which a frozen container never answers. Their host reads go through the
# one-component-at-a-time O_NOFOLLOW reader (tools/paths.py), regular files only.
def _edit_file(args: EditFileArgs, ctx: ToolContext) -> Observation:
    before = ctx.checker.baseline(ctx.workspace, ctx.sandbox, args.path)
    with ctx.guard():
        result = files.edit_file(ctx.workspace, args.path, args.old_text, args.new_text, args.replace_all)
    how = "" if result.get("strategy") == "exact" else f" (matched by {result.get('strategy')} matching)"
    observation = Observation(text=f"Edited {args.path}{how}:\n{result.get('diff', '')}", data=result)
    return with_report(observation, ctx.checker.after(ctx.workspace, ctx.sandbox, args.path, before))


def _write_file(args: WriteFileArgs, ctx: ToolContext) -> Observation:
    before = ctx.checker.baseline(ctx.workspace, ctx.sandbox, args.path)
    with ctx.guard():
        result = files.write_file(ctx.workspace, args.path, args.content)
    verb = "Created" if result.get("created") else "Overwrote"
    observation = Observation(
        text=f"{verb} {args.path} ({len(args.content.splitlines())} lines).", data=result
    )
    return with_report(observation, ctx.checker.after(ctx.workspace, ctx.sandbox, args.path, before))


def _shell(args: ShellArgs, ctx: ToolContext) -> Observation:
    result = ctx.sandbox.exec(args.command, timeout=args.timeout or ctx.command_timeout)
    if result.stopped:
        status = "[stopped by the user; the command was killed]"
    elif result.timed_out:
        status = f"[timed out after {args.timeout or ctx.command_timeout:g}s; the command was killed]"
    else:
        status = f"[exit code: {result.exit_code}]"
    # The status goes first: it is the header line that keeps the output's first line indented.
    text = with_header(status, result.output.rstrip()) if result.output.strip() else status
    observation = Observation(
        ok=result.exit_code == 0 and not result.timed_out, text=text, data=result.model_dump()
    )
    return with_report(observation, ctx.checker.after_shell(ctx.workspace, ctx.sandbox))


def _git_diff(args: GitDiffArgs, ctx: ToolContext) -> Observation:
    path = None
    if args.path:  # the same refusals as every file tool, before host git sees the path
        path = paths.workspace_relative(ctx.workspace, paths.resolve_in_workspace(ctx.workspace, args.path))
    diff = ctx.diff(path)
    return Observation(text=diff or "No changes yet.", data={"diff": diff})


def _update_plan(args: UpdatePlanArgs, ctx: ToolContext) -> Observation:
    if not args.plan:
        raise ToolError('The plan is empty. Send the whole plan: [{"step": "...", "status": "pending"}, ...]')
    if sum(step.status == "in_progress" for step in args.plan) > 1:
        raise ToolError("Only one step may be in_progress at a time; mark the others pending or done.")
    ctx.plan = list(args.plan)
    lines = [
        f"{'[x]' if s.status == 'done' else '[>]' if s.status == 'in_progress' else '[ ]'} {s.step}"
        for s in args.plan
    ]
    return Observation(
        text="Plan updated:\n" + "\n".join(lines), data={"plan": [step.model_dump() for step in args.plan]}
    )


def _finish(args: FinishArgs, ctx: ToolContext) -> Observation:
    return Observation(text="Finishing: qcode will verify, commit and report.", data={"finish": args.summary})


def default_registry() -> ToolRegistry:
    return ToolRegistry(
        [
            Tool("read_file", "Show numbered lines of a file.", ReadFileArgs, _read_file, effect="read"),
            Tool(
                "list_files",
                "List files under a folder (respects .gitignore).",
                ListFilesArgs,
                _list_files,
                effect="read",
            ),
            Tool(
                "search",
                "Regex search over the repository; prints file:line:text.",
                SearchArgs,
                _search,
                effect="read",
            ),
            *symbol_tools(),
            Tool(
                "edit_file",
                "Replace old_text with new_text in a file. Copy old_text from read_file output "
                "without line numbers; include enough lines to be unique.",
                EditFileArgs,
                _edit_file,
                effect="write",
                in_sandbox=True,  # freezes around the change itself, then checks (see _edit_file)
            ),
            Tool(
                "write_file",
                "Create or overwrite a whole file.",
                WriteFileArgs,
                _write_file,
                effect="write",
                in_sandbox=True,  # as edit_file
            ),
            Tool(
                "shell",
                "Run a bash command in the sandbox (no network). Use it to run tests.",
                ShellArgs,
                _shell,
                effect="exec",
                in_sandbox=True,  # never frozen: it runs there
                sandboxed_command=True,
            ),
            Tool("git_diff", "Show the diff of your work so far.", GitDiffArgs, _git_diff, effect="read"),
            Tool(
                UPDATE_PLAN,
                "Record the plan: ordered steps with status pending, in_progress or done.",
                UpdatePlanArgs,
                _update_plan,
                effect="control",
            ),
            repo_map_tool(),
            Tool(
                FINISH,
                "End the task when the fix is done and verified.",
                FinishArgs,
                _finish,
                effect="control",
            ),
        ]
    )
