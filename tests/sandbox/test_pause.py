"""The sandbox freezes while the host touches the workspace (closing symlink-swap races)."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest
from qcode.sandbox.container import DockerSandbox, SandboxSettings

pytestmark = pytest.mark.docker


def test_paused_freezes_background_processes_and_nests(
    client: docker.DockerClient, settings: SandboxSettings, tmp_path: Path
) -> None:
    with DockerSandbox(tmp_path, settings, "pause-test", client=client) as sandbox:
        # A background writer that would race host-side git.
        assert sandbox.exec("(while true; do date +%s%N >> ticks; done) >/dev/null 2>&1 &").exit_code == 0
        container = client.containers.get(sandbox.container_id)
        with sandbox.paused():
            with sandbox.paused():  # nested use (restore stages first) must not pause twice
                container.reload()
                assert container.status == "paused"
                frozen = (tmp_path / "ticks").read_text()
                container.reload()
                assert (tmp_path / "ticks").read_text() == frozen  # nothing moved while frozen
            container.reload()
            assert container.status == "paused"  # still frozen until the outer block ends
        container.reload()
        assert container.status == "running"
        assert sandbox.exec("echo alive").output.strip() == "alive"


def test_two_threads_freezing_at_once_unfreeze_only_when_both_are_done(
    client: docker.DockerClient, settings: SandboxSettings, tmp_path: Path
) -> None:
    """The TUI's diff thread and the agent's host reads may overlap: the container must stay frozen
    until the last of them leaves (an early unpause would reopen the race for the other)."""
    import threading

    with DockerSandbox(tmp_path, settings, "pause-threads", client=client) as sandbox:
        container = client.containers.get(sandbox.container_id)
        inside, release = threading.Event(), threading.Event()

        def other_reader() -> None:
            with sandbox.paused():
                inside.set()
                release.wait(timeout=60)

        worker = threading.Thread(target=other_reader)
        with sandbox.paused():  # this reader freezes first and leaves first
            worker.start()
            assert inside.wait(timeout=60)
        container.reload()
        assert container.status == "paused"  # the other reader is still inside
        release.set()
        worker.join(timeout=60)
        container.reload()
        assert container.status == "running"
