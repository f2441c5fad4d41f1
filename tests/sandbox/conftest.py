"""Fixtures for the Docker sandbox tests: a real daemon and the image named by
QCODE_SANDBOX_IMAGE (default qcode-sandbox:latest); the docker tests skip without them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from qcode.agent.exceptions import SandboxUnavailable
from qcode.sandbox.container import DockerSandbox, SandboxSettings, docker_client, image_present

IMAGE = os.environ.get("QCODE_SANDBOX_IMAGE", "qcode-sandbox:latest")
SECRET_VAR = "QCODE_TEST_SECRET"


@pytest.fixture(scope="session")
def client() -> Iterator[docker.DockerClient]:
    try:
        client = docker_client()
    except SandboxUnavailable as err:
        pytest.skip(f"Docker unavailable: {err}")
    try:
        if not image_present(client, IMAGE):
            pytest.skip(f"sandbox image {IMAGE} is not built")
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def settings() -> SandboxSettings:
    return SandboxSettings(image=IMAGE, output_limit=30_000)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("workspace")


@pytest.fixture(scope="module")
def sandbox(
    client: docker.DockerClient, settings: SandboxSettings, workspace: Path
) -> Iterator[DockerSandbox]:
    """One container per test module; a host secret is set while it starts."""
    os.environ[SECRET_VAR] = "hunter2-must-not-leak"
    try:
        box = DockerSandbox(workspace, settings, "pytest", client=client).start()
    finally:
        del os.environ[SECRET_VAR]
    try:
        yield box
    finally:
        box.close()
