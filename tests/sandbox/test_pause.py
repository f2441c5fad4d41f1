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
