"""The Docker sandbox: one hardened container and one persistent bash per session."""

from __future__ import annotations

import atexit
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import docker
import docker.errors
from pydantic import BaseModel
from qcode.agent.contracts import ExecResult
from qcode.agent.exceptions import SandboxUnavailable
from qcode.sandbox.quota import WorkspaceSizeWatch, fsize_ulimits, parse_size, pids_in_use
from qcode.sandbox.reaper import owner_label, reap_leftovers, remove_container
from qcode.sandbox.shell import PersistentShell, ShellDied, ShellOutcome, Stopper

__all__ = [
    "DockerSandbox",
    "missing_socket_advice",
    "SandboxSettings",
    "docker_client",
    "docker_host",
    "image_present",
    "require_image",
    "sandbox_env",
    "sandbox_user",
]

NOBODY = 65532
"""The uid:gid commands run as when qcode itself runs as root (distroless 'nonroot')."""

_PIDS_RESET = (
    "[the sandbox's process limit was exhausted {when} (a fork bomb or runaway background jobs): every "
    "process was killed and the sandbox restarted; /tmp is cleared, cwd and exported variables are reset]"
)
"""[safety suite] What the model reads when a full process table forced a restart."""

log = logging.getLogger(__name__)
_BUILD_HINT = "build it with `qcode sandbox build --offline --tag {image}`"


class SandboxSettings(BaseModel):
    """How the sandbox container is built and how commands run in it."""

    image: str = "qcode-sandbox:latest"
    """Docker image with bash, coreutils, git and the project's test tools."""
    memory: str = "4g"
    """Memory cap (Docker syntax); swap is capped to the same value."""
    cpus: float = 2.0
    """CPU cap; clamped to the host's CPU count."""
    pids_limit: int = 512
    """Most processes the container may hold at once (fork bombs stop here)."""
    tmp_size: str = "512m"
    """Size cap of the tmpfs at /tmp (also $HOME)."""
    output_limit: int = 30_000
    """Characters kept of one command's output: the first and last halves."""
    default_timeout: float = 120.0
    """Seconds a command may run when the caller gives no timeout."""
    disk: str | None = "8g"
    """Size cap of the workspace (None: no cap). [safety suite] Enforced by the kernel when the session
    mounted the workspace with `quota.prepare_workspace_mount`; otherwise no single file may exceed it
    (RLIMIT_FSIZE) and the model is told after each command that leaves the workspace over it."""


def sandbox_user() -> tuple[int, int]:
    """The uid:gid for the sandbox: the host user's, or 65532 when qcode runs as root."""
    uid, gid = os.getuid(), os.getgid()
    return (NOBODY, NOBODY) if uid == 0 else (uid, gid)


def sandbox_env() -> dict[str, str]:
    """The container's whole environment, built from scratch: nothing leaks from the host."""
    return {
        "HOME": "/tmp",
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PAGER": "cat",
        "GIT_PAGER": "cat",
        "TERM": "dumb",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
    }


def docker_client() -> docker.DockerClient:
    """A connected client, or SandboxUnavailable with the one-line fix."""
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as err:
        raise SandboxUnavailable(_explain_connect_error(err)) from None
    return client


def docker_host() -> str:
    """Where the Docker SDK connects: $DOCKER_HOST, else the default socket."""
    return os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")


def missing_socket_advice(socket: Path) -> str:
    """The fix when the Docker socket does not exist: a stale DOCKER_HOST, or no Docker at all."""
    if "DOCKER_HOST" in os.environ:
        return (
            f"DOCKER_HOST points at {socket}, which does not exist; unset DOCKER_HOST "
            "(`unset DOCKER_HOST`: the default is /var/run/docker.sock) or point it at a running daemon"
        )
    return (
        f"{socket} does not exist; install Docker (`apt-get install docker.io`) "
        "and start it (`systemctl start docker`)"
    )


def _explain_connect_error(err: Exception) -> str:
    """One line with the fix; the SDK's own text (a chain of nested exceptions) stays out of it."""
    text = str(err)
    host = docker_host()
    if "Permission denied" in text or "PermissionError" in text:
        return (
            f"permission denied on the Docker socket ({host}): add yourself to the docker group "
            "(`sudo usermod -aG docker $USER`, then log in again)"
        )
    socket = Path(host.removeprefix("unix://")) if host.startswith("unix://") else None
    if socket is not None and not socket.exists():
        return f"Docker is not reachable: {missing_socket_advice(socket)}"
    return (
        f"Docker is not reachable at {host}: start the daemon (`systemctl start docker`) or set DOCKER_HOST"
    )


def image_present(client: docker.DockerClient, image: str) -> bool:
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        return False
    return True


def require_image(client: docker.DockerClient, image: str) -> None:
    """Raise SandboxUnavailable with the build command when `image` is not present."""
    if not image_present(client, image):
        raise SandboxUnavailable(f"sandbox image {image!r} not found: " + _BUILD_HINT.format(image=image))


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    """Give the workspace to the sandbox user (only needed when qcode runs as root)."""
    for path in [root, *root.rglob("*")]:
        st = path.lstat()
        if st.st_uid != uid or st.st_gid != gid:
            os.lchown(path, uid, gid)


def _container_name(session_id: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "-", session_id)[:40] or "session"
    return f"qcode-{safe}-{secrets.token_hex(3)}"


class DockerSandbox:
    """A `qcode.agent.contracts.Sandbox`: commands run in one persistent bash in a container."""

    def __init__(
        self,
        workspace: Path,
        settings: SandboxSettings,
        session_id: str,
        client: docker.DockerClient | None = None,
    ) -> None:
        self.workspace = Path(workspace).resolve()
        self.settings = settings
        self.session_id = session_id
        self.uid, self.gid = sandbox_user()
        self.container_id = ""
        self._client = client
        self._owns_client = client is None
        self._container: Any = None
        self._pause_depth = 0
        self._pause_lock = threading.Lock()
        self._frozen = False
        self._shell: PersistentShell | None = None
        self._stopper = Stopper()
        """Set by `interrupt()` from another thread; kills the running command at once."""
        self._disk_limit = parse_size(settings.disk) if settings.disk else 0
        self._size_watch: WorkspaceSizeWatch | None = None  # a plain folder under a size cap
        self._init_pid = 0
        self._refused_forks = 0  # pids.events count already accounted for

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            self._client = docker_client()
        return self._client

    def start(self) -> DockerSandbox:
        """Create and start the container and open the persistent shell (once)."""
        if self._container is not None:
            return self
        if self._stopper.closed:  # started again after a close
            self._stopper = Stopper()
        reap_leftovers(self.client)
        if os.getuid() == 0:
            _chown_tree(self.workspace, self.uid, self.gid)
        self._container = self._create_container()
        self.container_id = self._container.id
        s = self.settings
        log.info(
            "sandbox %s: started from %s (memory %s, cpus %s)",
            self.container_id[:12],
            s.image,
            s.memory,
            s.cpus,
        )
        if self._disk_limit and not os.path.ismount(self.workspace):  # a mount is capped by its size
            self._size_watch = WorkspaceSizeWatch(self.workspace, self._disk_limit)
        atexit.register(self.close)
        try:
            self._open_shell()
        except BaseException:
            self.close()
            raise
        return self

    def _create_container(self) -> Any:
        s = self.settings
        cpus = min(s.cpus, float(os.cpu_count() or 1))
        try:
            container = self.client.containers.create(  # create, unlike run, never pulls
                s.image,
                ["sleep", "infinity"],
                name=_container_name(self.session_id),
                init=True,
                user=f"{self.uid}:{self.gid}",
                working_dir="/workspace",
                environment=sandbox_env(),
                volumes={str(self.workspace): {"bind": "/workspace", "mode": "rw"}},
                tmpfs={"/tmp": f"rw,nosuid,nodev,size={s.tmp_size},mode=1777"},
                network_mode="none",
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                pids_limit=s.pids_limit,
                mem_limit=s.memory,
                memswap_limit=s.memory,
                nano_cpus=int(cpus * 1e9),
                ulimits=fsize_ulimits(self._disk_limit) if self._disk_limit else None,  # [safety suite]
                labels={
                    "qcode": "1",
                    "qcode.session": self.session_id,
                    "qcode.owner": owner_label(),
                },
            )
        except docker.errors.ImageNotFound:
            require_image(self.client, s.image)  # raises with the build command
            raise
        except docker.errors.APIError as err:
            raise SandboxUnavailable(f"could not create the sandbox container: {err}") from None
        try:
            container.start()
        except docker.errors.APIError as err:
            remove_container(container)
            raise SandboxUnavailable(f"could not start the sandbox container: {err}") from None
        return container

    def _open_shell(self) -> None:
        api = self.client.api
        user = f"{self.uid}:{self.gid}"
        shell = PersistentShell(api, self.container_id, user, self.settings.output_limit, self._stopper)
        shell.open()
        self._shell = shell
        self._container.reload()  # [safety suite] the init pid locates the pids cgroup (quota.pids_in_use)
        self._init_pid = int(self._container.attrs["State"].get("Pid") or 0)
        usage = pids_in_use(self._init_pid)
        self._refused_forks = usage.refused_forks if usage else 0

    def exec(self, command: str, timeout: float | None = None) -> ExecResult:
        """Run `command` in the persistent shell; failures come back as data."""
        if self._container is None:
            raise SandboxUnavailable("the sandbox is not started (call start() or use `with`)")
        limit = self.settings.default_timeout if timeout is None else timeout
        began = time.monotonic()
        reset_before = self._reset_if_pids_exhausted()  # [safety suite] a bomb that grew since
        restarted, early = self._ensure_shell()
        assert self._shell is not None
        try:
            outcome = self._shell.run(command, limit, early)
        except ShellDied:  # died between the liveness check and the send
            restarted, early = self._ensure_shell()
            outcome = self._shell.run(command, limit, early)
        result = self._to_result(outcome, restarted, time.monotonic() - began)
        return self._after_command(result, reset_before)

    def interrupt(self) -> None:
        """Kill the running command now (its process tree; the shell stays) and refuse to start
        more until `clear_interrupt()`. Safe to call from any thread."""
        self._stopper.stop()

    def clear_interrupt(self) -> None:
        """Accept commands again (a new run after a stopped one)."""
        self._stopper.clear()

    # [safety suite, issue 9] resource checks the container limits alone do not give -----------------

    def _after_command(self, result: ExecResult, reset_before: bool) -> ExecResult:
        """Reset a process table left full (a backgrounded fork bomb outlives its command and starves
        every later one) and tell the model when the workspace is over its size cap."""
        notes = []
        if reset_before:
            notes.append(_PIDS_RESET.format(when="before this command ran"))
        if self._reset_if_pids_exhausted():
            notes.append(_PIDS_RESET.format(when="after this command"))
        if self._size_watch is not None and (note := self._size_watch.check(self.paused)):
            notes.append(note)
        if not notes:
            return result
        text = result.output + ("" if not result.output or result.output.endswith("\n") else "\n")
        return result.model_copy(update={"output": text + "\n".join(notes)})

    def _reset_if_pids_exhausted(self) -> bool:
        """Restart the container once the kernel has refused a fork since the last check (or the
        table is nearly full): what survives a hit limit is unknowable, so start from a clean one."""
        usage = pids_in_use(self._init_pid)
        if usage is None:
            return False
        if usage.refused_forks == self._refused_forks and usage.current < 0.9 * usage.limit:
            return False
        self._restart_container()
        return True

    def _restart_container(self) -> None:
        if self._shell is not None:
            self._shell.close()
            self._shell = None
        self._container.restart(timeout=0)  # SIGKILL to every process of the container
        self._open_shell()

    def _ensure_shell(self) -> tuple[bool, bytes]:
        """Restart the shell if it died since the last command; return (restarted, early)."""
        early = self._shell.drain_idle() if self._shell is not None else b""
        if self._shell is not None and self._shell.alive:
            return False, early
        self._container.reload()
        if self._container.status != "running":
            self._container.start()
        self._open_shell()
        return True, early

    def _to_result(self, outcome: ShellOutcome, restarted: bool, duration: float) -> ExecResult:
        text = outcome.output
        if restarted:
            text = (
                "[the previous shell had exited; this ran in a fresh shell: "
                "cwd is /workspace and exported variables are reset]\n" + text
            )
        notes = list(outcome.notes)
        if outcome.shell_exited:
            notes.append(
                f"[the shell exited (code {outcome.exit_code}); the next command starts in a fresh shell]"
            )
        if notes:
            text = text + ("" if not text or text.endswith("\n") else "\n") + "\n".join(notes)
        return ExecResult(
            exit_code=outcome.exit_code,
            output=text,
            timed_out=outcome.timed_out,
            duration=duration,
            truncated=outcome.truncated,
            shell_restarted=restarted,
            stopped=outcome.stopped,
        )

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Freeze every process of the sandbox while the host reads or writes the workspace, so no
        background process can swap a file for a symlink between host git's check and its use."""
        # Counted under a lock: the TUI's diff thread and the agent's tools may both freeze at once;
        # the first in pauses, the last out unpauses (nested uses in one thread count the same way).
        with self._pause_lock:
            if self._pause_depth == 0:
                self._frozen = self._container is not None and self._freeze()
            self._pause_depth += 1
        try:
            yield
        finally:
            with self._pause_lock:
                self._pause_depth -= 1
                if self._pause_depth == 0 and self._frozen:
                    self._frozen = False
                    self._thaw()

    def _thaw(self) -> None:
        """Unpause; a container that is already running (Docker: "is not paused") is what we want."""
        assert self._container is not None
        try:
            self._container.unpause()
        except docker.errors.APIError as err:
            if "is not paused" not in str(err):
                raise

    def _freeze(self, attempts: int = 3) -> bool:
        """Pause the container; False when it is not running (no process left to race). A freeze
        that fails while it runs is retried, then fails closed: the host read does not happen."""
        for attempt in range(attempts):
            try:
                self._container.pause()
                return True
            except docker.errors.APIError as err:
                self._container.reload()
                if self._container.status == "paused":  # the freeze took, though Docker complained
                    return True
                if self._container.status in ("exited", "dead", "created"):
                    return False
                if attempt == attempts - 1:
                    raise SandboxUnavailable(f"could not freeze the sandbox for a host read: {err}") from None
        return False

    def close(self) -> None:
        """Remove the container (idempotent), even if Ctrl-C arrives while doing so."""
        atexit.unregister(self.close)
        if self._shell is not None:
            self._shell.close()
            self._shell = None
        container, self._container = self._container, None
        self._stopper.close()
        if container is None:
            return
        log.info("sandbox %s: removing", str(container.id)[:12])
        try:
            remove_container(container)
        except KeyboardInterrupt:
            remove_container(container)
            raise
        try:
            reap_leftovers(self.client)
        except docker.errors.DockerException:
            pass  # the daemon went away; nothing more to clean
        if self._owns_client and self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> DockerSandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
