"""Wiring shared by the front doors: settings → engine + Docker sandbox + Session."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from qcode.agent.contracts import Engine
from qcode.agent.engines import make_engine, preflight
from qcode.agent.events import EventBus, Notice
from qcode.agent.exceptions import UserError
from qcode.agent.extensions import Extensions
from qcode.agent.logs import log_to_session
from qcode.agent.loop import Approver, LoopLimits
from qcode.agent.session import Session, SessionOptions
from qcode.agent.sessions import load_meta, repo_root
from qcode.agent.workspace import inspect_repo
from qcode.config import Settings, user_config_path
from qcode.sandbox.container import SandboxSettings, docker_client, require_image
from qcode.sandbox.provider import DockerProvider
from qcode.sandbox.quota import parse_size, reap_stale_mounts
from qcode.tools.checks import DiagnosticsConfig

__all__ = ["check_sandbox", "docker_sandbox_factory", "new_session", "prepare_sandbox"]


log = logging.getLogger(__name__)


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


def prepare_sandbox(settings: Settings, log: Callable[[str], None]) -> None:
    """A first `qcode fix` / `qcode demo`: build the sandbox image when it is missing (progress to
    `log`), or fail with the one-line fix."""
    from qcode.sandbox.image import ensure_image

    client = docker_client()
    try:
        ensure_image(client, settings.sandbox_image, log=log)
    finally:
        client.close()


def docker_sandbox_factory(settings: Settings) -> DockerProvider:
    """The sessions' sandbox provider: Docker, configured from `settings`."""
    return DockerProvider(sandbox_settings(settings))


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
    repo_proposals: bool = True,
    allowed_tools: list[str] | None = None,
    warm_engine: bool = False,
) -> Session:
    """A ready Session (or a past one, `resume`d by id); raises UserError (exit 2) for bad input
    before touching anything. `on_dirty` runs when the checkout has uncommitted changes, before the
    engine loads (a prompt answered "no" then costs nothing). MCP servers and hooks come from the
    user's config; `repo_proposals=False` (the bot) ignores servers the repository proposes;
    `allowed_tools` narrows the tools (a custom command's front matter); `warm_engine`: this front
    door uses the warm engine process unless the settings say otherwise."""
    if engine is None:
        preflight(settings.engine)  # no GPU for the default engine: refuse before anything else
    check_sandbox(settings)
    reap_stale_mounts(settings.state_dir)  # workspaces of qcode processes killed with SIGKILL
    meta = load_meta(settings.state_dir, resume) if resume else None
    if meta is not None:
        if repo_root(repo) != Path(meta.repo):  # never switch repositories behind the user's back
            raise UserError(
                f"session {meta.id} belongs to {meta.repo}, not {repo_root(repo)}; "
                f"run `qcode tui --repo {meta.repo}` to resume it"
            )
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
            phases=settings.plan_first,
        ),
        command_timeout=settings.command_timeout,
        verify_command=settings.verify_command,
        patch_out=patch_out,
        diagnostics=DiagnosticsConfig(
            mode=settings.diagnostics,
            lint_commands=settings.lint_commands,
            lint_timeout=settings.lint_timeout,
        ),
    )
    repo_info = inspect_repo(repo)  # bad input fails before a model spends minutes loading
    extensions = Extensions.load(
        user_config_path(),
        repo_info.root,
        settings.state_dir,
        repo_proposals=repo_proposals,
        allowed_tools=allowed_tools,
        output_limit=settings.output_limit,
    )
    if repo_info.dirty and on_dirty is not None:
        on_dirty()
    session_engine = engine or make_engine(settings.engine, settings, warm=warm_engine)
    try:
        session = Session(
            options,
            session_engine,
            docker_sandbox_factory(settings),
            bus=bus,
            approver=approver,
            resume=meta,
            owns_engine=engine is None,
            repo_info=repo_info,
            extensions=extensions,
        )
    except BaseException:
        if engine is None:
            session_engine.close()
        raise
    log_to_session(session.folder)
    log.info(
        "session %s: repo %s, engine %s, %s",
        session.id,
        repo_info.root,
        settings.engine,
        f"resuming {meta.id}" if meta else "new",
    )
    if hasattr(session_engine, "on_notice"):  # the warm engine says when it restarted a lost one
        session_engine.on_notice = lambda text: session.bus.emit(Notice(level="warning", text=text))
    return session


def _checkpoint_budget(settings: Settings) -> int | None:
    """Bytes host.git may keep for checkpoints: the setting, else the workspace cap (issue 13)."""
    size = settings.checkpoint_bytes or settings.sandbox_disk
    return parse_size(size) if size else None
