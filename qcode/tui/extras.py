"""The TUI's few calls into the core besides the event bus: building the engine and the session, and
the optional undo / resume APIs (used when this build of the core has them)."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any

from qcode.agent.contracts import Engine
from qcode.agent.events import EventBus
from qcode.agent.session import Session
from qcode.config import Settings
from qcode.tui.approval import ApprovalGate

__all__ = ["build_engine", "can_resume", "can_undo", "model_label", "open_session", "past_sessions", "undo"]


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


def open_session(settings: Settings, repo: Path, bus: EventBus, engine: Engine, gate: ApprovalGate,
                 resume: str | None = None) -> Session:
    from qcode.runner import new_session

    extra: dict[str, Any] = {"resume": resume} if resume else {}
    return new_session(settings, repo, bus=bus, engine=engine, approver=gate, **extra)


def can_undo(session: Session) -> bool:
    return callable(getattr(session, "undo", None))


def undo(session: Session, steps: int = 1) -> str:
    return str(session.undo(steps))  # type: ignore[attr-defined]


def _sessions_module() -> Any:
    try:
        return importlib.import_module("qcode.agent.sessions")
    except ImportError:
        return None


def can_resume() -> bool:
    from qcode.runner import new_session

    module = _sessions_module()
    return (module is not None and hasattr(module, "list_sessions")
            and "resume" in inspect.signature(new_session).parameters)


def past_sessions(state_dir: Path) -> list[tuple[str, str]]:
    """(id, one-line description) of past sessions, newest first."""
    rows = []
    for item in _sessions_module().list_sessions(state_dir):
        sid = str(getattr(item, "id", None) or getattr(item, "session_id", ""))
        task = str(getattr(item, "task", "") or "")
        status = str(getattr(item, "status", "") or "")
        rows.append((sid, " · ".join(part for part in (status, " ".join(task.split())[:60]) if part)))
    return rows
