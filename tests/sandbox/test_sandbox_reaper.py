"""The reaper removes qcode containers whose owner process is gone and leaves live ones."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator

import docker
import docker.errors
import pytest
from qcode.sandbox.reaper import owner_alive, owner_label, process_start_time, reap_leftovers

HOST = socket.gethostname()
IMAGE = os.environ.get("QCODE_SANDBOX_IMAGE", "qcode-sandbox:latest")


def dead_owner() -> str:
    """The owner label of a process that has exited."""
    child = subprocess.Popen(["sleep", "30"])
    label = owner_label(child.pid)
    child.kill()
    child.wait()
    return label


@pytest.fixture
def labelled(client: docker.DockerClient) -> Iterator[list[str]]:
    """Creates stopped qcode-labelled containers; removes any the test left."""
    made: list[str] = []
    yield made
    for cid in made:
        try:
            client.containers.get(cid).remove(force=True)
        except docker.errors.NotFound:
            pass


def make(client: docker.DockerClient, made: list[str], owner: str) -> str:
    container = client.containers.create(
        IMAGE, ["true"], network_mode="none", labels={"qcode": "1", "qcode.owner": owner}
    )
    made.append(container.id)
    return container.id


def exists(client: docker.DockerClient, cid: str) -> bool:
    try:
        client.containers.get(cid)
    except docker.errors.NotFound:
        return False
    return True


def test_process_start_time_tells_a_recycled_pid() -> None:
    assert process_start_time(os.getpid()) == owner_label().rsplit(":", 1)[1]
    assert process_start_time(2**22 + 1) is None  # above the kernel's pid_max


def test_owner_alive_only_when_certain_it_is_dead() -> None:
    me = owner_label()
    assert owner_alive(me)
    assert not owner_alive(dead_owner())
    assert not owner_alive(f"{HOST}:{os.getpid()}:1")  # same pid, other start time: recycled
    assert owner_alive(f"another-host:{os.getpid()}:1")
    assert owner_alive("garbage")
    assert owner_alive("")


@pytest.mark.docker
def test_reaps_dead_owners_and_leaves_live_and_foreign_ones(
    client: docker.DockerClient, labelled: list[str]
) -> None:
    dead = make(client, labelled, dead_owner())
    recycled = make(client, labelled, f"{HOST}:{os.getpid()}:1")
    live = make(client, labelled, owner_label())
    foreign = make(client, labelled, f"another-host:{os.getpid()}:1")
    removed = reap_leftovers(client)
    assert dead in removed and recycled in removed
    assert live not in removed and foreign not in removed
    assert not exists(client, dead) and not exists(client, recycled)
    assert exists(client, live) and exists(client, foreign)


@pytest.mark.docker
def test_ignores_containers_without_the_qcode_label(client: docker.DockerClient) -> None:
    other = client.containers.create(
        IMAGE, ["true"], network_mode="none", labels={"qcode.owner": dead_owner()}
    )
    try:
        assert other.id not in reap_leftovers(client)
        assert exists(client, other.id)
    finally:
        other.remove(force=True)
