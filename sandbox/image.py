"""Building the sandbox image: from a registry base, or offline from Debian packages alone."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections import deque
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import docker
from docker.errors import BuildError, DockerException
from qcode.agent.exceptions import UserError

__all__ = ["DEFAULT_IMAGE", "OFFLINE_PACKAGES", "build_from_dockerfile", "build_offline", "ensure_image"]

DEFAULT_IMAGE = "qcode-sandbox:latest"

OFFLINE_PACKAGES = [
    "python3",
    "python-is-python3",
    "python3-pip",
    "python3-venv",
    "python3-pytest",
    "git",
    "ripgrep",
    "make",
    "gcc",
    "libc6-dev",
    "patch",
    "procps",
    "ca-certificates",
]
"""What every qcode sandbox has: Python as `python` and `python3`, pip, pytest, git, rg, build basics."""

DEBIAN_MIRROR = "http://deb.debian.org/debian"

Log = Callable[[str], None]


def build_from_dockerfile(client: docker.DockerClient, tag: str = DEFAULT_IMAGE, log: Log = print) -> str:
    """Build from the bundled Dockerfile (needs a registry for `python:3.12-slim`)."""
    context = resources.files("qcode.sandbox")
    with resources.as_file(context) as folder:
        try:
            image, stream = client.images.build(path=str(folder), dockerfile="Dockerfile", tag=tag, rm=True)
        except BuildError as err:
            raise UserError(
                f"image build failed ({err.msg}); without registry access run `qcode sandbox build --offline`"
            ) from err
    for chunk in stream:
        if isinstance(chunk, dict) and isinstance(chunk.get("stream"), str):
            log(str(chunk["stream"]).rstrip())
    return str(image.id)


def build_offline(
    client: docker.DockerClient,
    tag: str = DEFAULT_IMAGE,
    suite: str = "bookworm",
    mirror: str = DEBIAN_MIRROR,
    log: Log = print,
) -> str:
    """Build with `debootstrap` + `docker import`: only Debian's package archive is needed."""
    if shutil.which("debootstrap") is None:
        raise UserError("debootstrap is not installed; run `apt-get install -y debootstrap`")
    with tempfile.TemporaryDirectory(prefix="qcode-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        command = [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(OFFLINE_PACKAGES)}",
            suite,
            str(rootfs),
            mirror,
        ]
        log(f"$ {' '.join(command)}")
        code, tail = _stream(command, log)
        if code != 0:
            raise UserError(f"debootstrap failed: {' | '.join(tail)}; check that {mirror} is reachable")
        _slim(rootfs)
        log(f"importing {rootfs} as {tag}")
        return _import_rootfs(client, rootfs, tag)


def _stream(command: list[str], log: Log, keep: int = 3) -> tuple[int, list[str]]:
    """Run `command`, passing each output line to `log` as it comes (debootstrap takes minutes);
    returns the exit code and the last `keep` lines, for the error message."""
    tail: deque[str] = deque(maxlen=keep)
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip()[:300]  # bounded: a line is shown, not kept
            if line:
                tail.append(line)
                log(line)
    return proc.returncode, list(tail)


def _slim(rootfs: Path) -> None:
    """Drop the package caches: they are a third of a minbase root and never used in the sandbox."""
    for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
        folder = rootfs / cache
        if folder.is_dir():
            for entry in folder.iterdir():
                if entry.is_file():
                    entry.unlink()


def _import_rootfs(client: docker.DockerClient, rootfs: Path, tag: str) -> str:
    repository, _, version = tag.partition(":")
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    assert tar.stdout is not None
    try:
        # The API's import endpoint takes the tar stream and the image config in one call.
        result = client.api.import_image_from_stream(
            tar.stdout,
            repository=repository,
            tag=version or "latest",
            changes=["WORKDIR /workspace", 'CMD ["bash"]', "ENV LANG=C.UTF-8"],
        )
    except DockerException as err:
        raise UserError(f"docker import failed: {err}") from err
    finally:
        tar.stdout.close()
        tar.wait()
    return str(client.images.get(tag).id) if result else ""


def ensure_image(client: docker.DockerClient, tag: str, log: Log = print) -> bool:
    """Build `tag` when it is missing (a first run): from the registry, else offline with debootstrap
    when qcode runs as root. True when it built one; SandboxUnavailable with the fix when it cannot."""
    from qcode.agent.exceptions import SandboxUnavailable
    from qcode.sandbox.container import image_present

    if image_present(client, tag):
        return False
    log(f"the sandbox image {tag} is missing; building it now (once, a few minutes)")
    try:
        build_from_dockerfile(client, tag, log=log)
        return True
    except (UserError, DockerException) as err:
        log(f"no registry ({' '.join(str(err).split())[:160]}); trying the offline build")
    offline = os.geteuid() == 0 and shutil.which("debootstrap") is not None
    if not offline:
        raise SandboxUnavailable(
            f"the sandbox image {tag} is missing and no registry answered; build it offline as root "
            f"(`sudo qcode sandbox build --offline --tag {tag}`, needs debootstrap) or with registry access"
        )
    try:
        build_offline(client, tag, log=log)
    except UserError as err:
        raise SandboxUnavailable(f"could not build the sandbox image {tag}: {err}") from None
    return True
