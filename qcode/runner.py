"""Wiring shared by the front doors: settings → engine + Docker sandbox + Session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from qcode.agent.contracts import Engine, Sandbox
from qcode.agent.engines import make_engine
from qcode.agent.events import EventBus
from qcode.agent.loop import Approver, LoopLimits
from qcode.agent.session import Session, SessionOptions
from qcode.agent.sessions import load_meta
from qcode.agent.workspace import inspect_repo
from qcode.config import Settings
from qcode.sandbox.container import DockerSandbox, SandboxSettings, docker_client, require_image
from qcode.sandbox.quota import parse_size, reap_stale_mounts

__all__ = ["check_sandbox", "docker_sandbox_factory", "new_session"]


def sandbox_settings(settings: Settings) -> SandboxSettings:
    return SandboxSettings(
        image=settings.sandbox_image,
        memory=settings.sandbox_memory,
        cpus=settings.sandbox_cpus,
        pids_limit=settings.sandbox_pids,
        output_limit=settings.output_limit,
        disk=settings.sandbox_disk,
        default_timeout=settings.command_timeout,
    )


def check_sandbox(settings: Settings) -> None:
    """Fail fast, before any folder is made, when Docker or the image is missing."""
    require_image(docker_client(), settings.sandbox_image)


def docker_sandbox_factory(settings: Settings):  # type: ignore[no-untyped-def]
    config = sandbox_settings(settings)

    def start(workspace: Path, session_id: str) -> Sandbox:
        return DockerSandbox(workspace, config, session_id).start()

    return start


def new_session(
    settings: Settings,
    repo: Path,
    bus: EventBus | None = None,
    engine: Engine | None = None,
    patch_out: Path | None = None,
    branch: str | None = None,
    approver: Approver | None = None,
    keep_workspace: bool = False,
    resume: str | None = None,
    on_dirty: Callable[[], None] | None = None,
) -> Session:
    """A ready Session (or a past one, `resume`d by id); raises UserError (exit 2) for bad input
    before touching anything. `on_dirty` runs when the checkout has uncommitted changes, before the
    engine loads (a prompt answered "no" then costs nothing)."""
    check_sandbox(settings)
    reap_stale_mounts(settings.state_dir)  # workspaces of qcode processes killed with SIGKILL
    meta = load_meta(settings.state_dir, resume) if resume else None
    if meta is not None:
        repo = Path(meta.repo)
    options = SessionOptions(
        repo=repo,
        state_dir=settings.state_dir,
        branch=branch,
        keep_workspace=keep_workspace,
        workspace_disk=settings.sandbox_disk,
        checkpoint_bytes=_checkpoint_budget(settings),
        limits=LoopLimits(
            max_steps=settings.max_steps,
            max_tokens=settings.max_tokens,
            max_wall_seconds=settings.max_wall_seconds,
            context_tokens=settings.max_model_len,
        ),
        command_timeout=settings.command_timeout,
        verify_command=settings.verify_command,
        patch_out=patch_out,
    )
    repo_info = inspect_repo(repo)  # bad input fails before a model spends minutes loading
    if repo_info.dirty and on_dirty is not None:
        on_dirty()
    session_engine = engine or make_engine(settings.engine, settings)
    try:
        return Session(
            options,
            session_engine,
            docker_sandbox_factory(settings),
            bus=bus,
            approver=approver,
            resume=meta,
            owns_engine=engine is None,
            repo_info=repo_info,
        )
    except BaseException:
        if engine is None:
            session_engine.close()
        raise


def _checkpoint_budget(settings: Settings) -> int | None:
    """Bytes host.git may keep for checkpoints: the setting, else the workspace cap (issue 13)."""
    size = settings.checkpoint_bytes or settings.sandbox_disk
    return parse_size(size) if size else None
