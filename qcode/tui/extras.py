"""The TUI's few calls into the core besides the event bus: the engine, the session, undo, resume."""

from __future__ import annotations

from pathlib import Path

from qcode.agent.contracts import Engine
from qcode.agent.events import EventBus
from qcode.agent.session import Session
from qcode.config import Settings
from qcode.tui.approval import ApprovalGate
from qcode.tui.history import SessionList, sessions_of

__all__ = [
    "REVIEW_CAP",
    "build_engine",
    "model_label",
    "open_session",
    "review_diff",
    "sessions_here",
    "undo",
]

REVIEW_CAP = 1_000_000
"""Characters of diff the review screen shows; a huge diff is cut with a note (the branch has it all)."""
_DIFF = ["--no-ext-diff", "--no-textconv", "--no-color"]


def model_label(settings: Settings, engine: Engine | None) -> str:
    """Short model name for the status bar: `Qwen3.6-27B`, or `replay:turns.jsonl`."""
    spec = engine.name if engine is not None else settings.engine
    kind, _, argument = spec.partition(":")
    if kind == "replay":
        return f"replay:{Path(argument).name}"
    return settings.model.rstrip("/").rsplit("/", 1)[-1]


def build_engine(settings: Settings) -> Engine:
    from qcode.agent.engines import make_engine
    from qcode.images import VisionEngine

    return VisionEngine(make_engine(settings.engine, settings))  # `/image` attaches through it


def open_session(
    settings: Settings,
    repo: Path,
    bus: EventBus,
    engine: Engine,
    gate: ApprovalGate,
    resume: str | None = None,
) -> Session:
    from qcode.images import VisionEngine
    from qcode.runner import new_session

    session = new_session(settings, repo, bus=bus, engine=engine, approver=gate, resume=resume)
    if isinstance(engine, VisionEngine):
        engine.open_store(session.folder)  # a resumed session's images come back with it
    return session


def undo(session: Session, steps: int = 1) -> str:
    return session.undo(steps)


def sessions_here(state_dir: Path, repo: Path) -> SessionList:
    """Past sessions of the repository `repo` is in (its top level, as sessions record it)."""
    from qcode.agent.workspace import inspect_repo

    return sessions_of(state_dir, inspect_repo(repo).root)


def review_diff(session: Session, live: bool) -> str:
    """What Ctrl+R shows: the branch's commits against the base, then the workspace's changes since
    the last commit (`live`: a run happened in this app, so the workspace copy is current).

    After an undo the branch still holds the fix while the workspace went back: both are shown."""
    workspace = session.workspace
    tip = workspace.tip or (session.resumed.tip if session.resumed else None)
    sections = []
    if tip:
        committed = workspace.git(["diff", *_DIFF, workspace.repo.head, tip])
        sections.append(f"# committed on {session.branch}\n" + (committed or "# (no changes)\n"))
    if live and workspace.path.is_dir():
        workspace.stage_all()
        pending = workspace.git(["diff", "--cached", *_DIFF, tip or workspace.repo.head])
        if tip:
            head = "# since the last commit (your next run commits it)\n"
            sections.append(head + (pending or "# (none)\n"))
        elif pending:
            sections.append(pending)
    text = "\n".join(sections) if any(_has_diff(s) for s in sections) else ""
    if len(text) > REVIEW_CAP:
        text = (
            text[:REVIEW_CAP] + f"\n# … cut at {REVIEW_CAP} characters: `git diff` the branch for the rest\n"
        )
    return text


def _has_diff(section: str) -> bool:
    return any(line.startswith(("+", "-")) for line in section.splitlines())
