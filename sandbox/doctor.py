"""`qcode sandbox doctor`: what is missing for the sandbox, and the exact fix for each."""

from __future__ import annotations

import os
from pathlib import Path

import docker
from docker.errors import DockerException
from pydantic import BaseModel
from qcode.sandbox.container import NOBODY, docker_host, image_present

__all__ = ["Check", "run_checks"]


class Check(BaseModel):
    name: str
    ok: bool
    detail: str


def _socket_path() -> Path | None:
    host = docker_host()
    return Path(host.removeprefix("unix://")) if host.startswith("unix://") else None


def run_checks(image: str) -> list[Check]:
    """Each check stops the chain when it fails: later ones would only repeat the same cause."""
    checks: list[Check] = []
    socket = _socket_path()
    if socket is not None:
        if not socket.exists():
            return [
                Check(
                    name="docker socket",
                    ok=False,
                    detail=f"{socket} does not exist; install Docker "
                    "(`apt-get install docker.io`) and start it (`systemctl start docker`)",
                )
            ]
        if not os.access(socket, os.R_OK | os.W_OK):
            return [
                Check(
                    name="docker socket",
                    ok=False,
                    detail=f"no permission on {socket}; run `sudo usermod -aG docker $USER` and log in again",
                )
            ]
        checks.append(Check(name="docker socket", ok=True, detail=str(socket)))
    try:
        client = docker.from_env(timeout=10)
        version = client.version().get("Version", "?")
    except DockerException as err:
        return [
            *checks,
            Check(
                name="docker daemon",
                ok=False,
                detail=f"no answer ({err.__class__.__name__}); start it: `systemctl start docker`",
            ),
        ]
    checks.append(Check(name="docker daemon", ok=True, detail=f"Docker {version}"))
    if not image_present(client, image):
        return [
            *checks,
            Check(
                name="sandbox image",
                ok=False,
                detail=f"{image} is not built; run "
                "`qcode sandbox build` (or `qcode sandbox build --offline` without a registry)",
            ),
        ]
    checks.append(Check(name="sandbox image", ok=True, detail=image))
    try:
        output = client.containers.run(
            image,
            ["python", "-c", "import pytest; print('ok')"],
            remove=True,
            network_mode="none",
            cap_drop=["ALL"],
            user=f"{NOBODY}:{NOBODY}",
        )
        checks.append(
            Check(name="sandbox runs", ok=output.strip() == b"ok", detail="python and pytest answer")
        )
    except DockerException as err:
        checks.append(
            Check(
                name="sandbox runs",
                ok=False,
                detail=f"{str(err)[:200]}; rebuild with `qcode sandbox build --offline`",
            )
        )
    return checks
