"""`qcode sandbox doctor`: what is missing for the sandbox, and the exact fix for each.

Every check is listed: one whose prerequisite failed is reported `skipped`, naming that
prerequisite, so a person sees the whole chain and fixes the first failure."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import docker
from docker.errors import DockerException
from pydantic import BaseModel
from qcode.sandbox.container import NOBODY, docker_host, image_present, missing_socket_advice

__all__ = ["CHECKS", "Check", "run_checks"]

CHECKS = ("docker socket", "docker daemon", "sandbox image", "sandbox runs")


class Check(BaseModel):
    name: str
    ok: bool
    detail: str
    skipped: bool = False
    """Not run: an earlier check it depends on failed (`detail` names it)."""


def _socket_path() -> Path | None:
    host = docker_host()
    return Path(host.removeprefix("unix://")) if host.startswith("unix://") else None


def run_checks(image: str) -> list[Check]:
    """All checks in order; after the first failure the rest are `skipped` (they need it)."""
    checks: list[Check] = []
    for check in _checks(image):
        checks.append(check)
        if not check.ok:
            break
    for name in CHECKS[len(checks) :]:
        checks.append(Check(name=name, ok=False, skipped=True, detail=f"skipped: needs {checks[-1].name}"))
    return checks


def _checks(image: str) -> Iterator[Check]:
    """Yields each check's result; the caller stops at the first failure."""
    socket = _socket_path()
    if socket is None:
        yield Check(name="docker socket", ok=True, detail=f"{docker_host()} (not a local socket)")
    elif not socket.exists():
        yield Check(name="docker socket", ok=False, detail=missing_socket_advice(socket))
    elif not os.access(socket, os.R_OK | os.W_OK):
        detail = f"no permission on {socket}; run `sudo usermod -aG docker $USER` and log in again"
        yield Check(name="docker socket", ok=False, detail=detail)
    else:
        yield Check(name="docker socket", ok=True, detail=str(socket))
    try:
        client = docker.from_env(timeout=10)
        version = client.version().get("Version", "?")
    except DockerException as err:
        detail = f"no answer ({err.__class__.__name__}); start it: `systemctl start docker`"
        yield Check(name="docker daemon", ok=False, detail=detail)
        return
    yield Check(name="docker daemon", ok=True, detail=f"Docker {version}")
    if not image_present(client, image):
        detail = (
            f"{image} is not built; run `qcode sandbox build` "
            "(or `qcode sandbox build --offline` without a registry)"
        )
        yield Check(name="sandbox image", ok=False, detail=detail)
        return
    yield Check(name="sandbox image", ok=True, detail=image)
    yield _sandbox_runs(client, image)


def _sandbox_runs(client: docker.DockerClient, image: str) -> Check:
    try:
        output = client.containers.run(
            image,
            ["python", "-c", "import pytest; print('ok')"],
            remove=True,
            network_mode="none",
            cap_drop=["ALL"],
            user=f"{NOBODY}:{NOBODY}",
        )
    except DockerException as err:
        detail = f"{' '.join(str(err).split())[:200]}; rebuild with `qcode sandbox build --offline`"
        return Check(name="sandbox runs", ok=False, detail=detail)
    return Check(name="sandbox runs", ok=output.strip() == b"ok", detail="python and pytest answer")
