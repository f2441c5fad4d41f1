"""The TUI's few calls into the core besides the event bus: the engine, the session, undo, resume."""

from __future__ import annotations

from pathlib import Path

from qcode.agent.contracts import Engine
from qcode.agent.events import EventBus
from qcode.agent.session import Session
from qcode.config import Settings
from qcode.tui.approval import ApprovalGate

__all__ = ["build_engine", "model_label", "open_session", "past_sessions", "undo"]


def model_label(settings: Settings, engine: Engine | None) -> str:
    """Short model name for the status bar: `Qwen3.6-27B`, or `replay:turns.jsonl`."""
    spec = engine.name if engine is not None else settings.engine
    kind, _, argument = spec.partition(":")
    if kind == "replay":
        return f"replay:{Path(argument).name}"
    return settings.model.rstrip("/").rsplit("/", 1)[-1]


def build_engine(settings: Settings) -> Engine:
    from qcode.agent.engines import make_engine

    return make_engine(settings.engine, settings)


def open_session(
    settings: Settings,
    repo: Path,
    bus: EventBus,
    engine: Engine,
    gate: ApprovalGate,
    resume: str | None = None,
) -> Session:
    from qcode.runner import new_session

    return new_session(settings, repo, bus=bus, engine=engine, approver=gate, resume=resume)


def undo(session: Session, steps: int = 1) -> str:
    return session.undo(steps)


def past_sessions(state_dir: Path, repo: Path | None = None) -> list[tuple[str, str]]:
    """(id, one-line description) of past sessions, newest first."""
    from qcode.agent.sessions import list_sessions

    return [
        (meta.id, " · ".join(part for part in (meta.status, " ".join(meta.task.split())[:60]) if part))
        for meta in list_sessions(state_dir, repo)
    ]
