"""The first `qcode fix` builds a missing sandbox image when it can, with progress, else says how."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from qcode.agent.exceptions import SandboxUnavailable
from qcode.sandbox.image import ensure_image

from tests.e2e.helpers import run_qcode

pytestmark = pytest.mark.docker

MISSING = "qcode-test-never-built:none"


@pytest.fixture
def no_registry(client) -> None:  # type: ignore[no-untyped-def]
    """This suite runs without registry access (the sandbox image is built offline)."""
    try:
        client.images.pull("hello-world", tag="latest")
    except Exception:  # noqa: BLE001 - any failure means: no registry here
        return
    pytest.skip("a registry is reachable here: the registry build would succeed (and take minutes)")


def test_fix_without_registry_or_debootstrap_stops_with_the_fix(
    no_registry, make_repo, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo({"a.py": "x = 1\n"})
    path = f"{Path(sys.executable).parent}:/usr/bin:/bin"  # no /usr/sbin: no debootstrap
    env = {"QCODE_SANDBOX_IMAGE": MISSING, "PATH": path}
    done = run_qcode("fix", "x", "--repo", str(repo), "--engine", "replay:/nonexistent", env=env)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert "is missing; building it now" in lines[0]  # progress before the verdict
    assert lines[-1].startswith("qcode: the sandbox image") and "--offline" in lines[-1]


def test_without_registry_the_offline_build_is_tried(
    no_registry, client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    if os.geteuid() != 0:
        pytest.skip("the offline build needs root")
    fake = tmp_path / "bin" / "debootstrap"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\necho "E: Failed getting release file"\nexit 1\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:/usr/bin:/bin")
    said: list[str] = []
    with pytest.raises(SandboxUnavailable) as info:
        ensure_image(client, MISSING, log=said.append)
    assert "debootstrap failed" in str(info.value) and "\n" not in str(info.value)
    assert any("trying the offline build" in line for line in said)
    assert any("Failed getting release file" in line for line in said)


def test_a_present_image_is_left_alone(client) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import SANDBOX_IMAGE

    said: list[str] = []
    assert ensure_image(client, SANDBOX_IMAGE, log=said.append) is False and said == []
