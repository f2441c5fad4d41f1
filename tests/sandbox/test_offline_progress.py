"""`qcode sandbox build --offline` shows debootstrap's progress as it comes, not after minutes."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from qcode.agent.exceptions import UserError
from qcode.sandbox.image import build_offline

from tests.polling import wait_until

# A stand-in for debootstrap (which needs a Debian mirror): it prints a line, waits for the test's
# go-ahead, then fails as debootstrap does when the mirror is unreachable.
FAKE = """#!/bin/sh
echo "I: Retrieving InRelease [bookworm]"
while [ ! -e "{go}" ]; do sleep 0.05; done
echo "E: Failed getting release file http://deb.example/dists/bookworm/Release"
exit 1
"""


def test_progress_lines_arrive_while_debootstrap_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    go = tmp_path / "go"
    fake = tmp_path / "bin" / "debootstrap"
    fake.parent.mkdir()
    fake.write_text(FAKE.format(go=go))
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:/usr/bin:/bin")
    lines: list[str] = []
    errors: list[Exception] = []

    def build() -> None:
        try:
            build_offline(None, "qcode-test:never", log=lines.append)  # type: ignore[arg-type]
        except UserError as err:
            errors.append(err)

    worker = threading.Thread(target=build)
    worker.start()
    try:
        wait_until(lambda: any("Retrieving InRelease" in line for line in lines), 30, "the first line")
        assert worker.is_alive()  # shown while debootstrap still runs
    finally:
        go.touch()
        worker.join(timeout=30)
    (error,) = errors
    assert "debootstrap failed" in str(error) and "Failed getting release file" in str(error)
    assert "\n" not in str(error)
