"""Issue 13, the non-root paths: qcode run by an ordinary user in the docker group (tests/nonroot.py).

Without root the workspace is a plain folder: one file is capped by RLIMIT_FSIZE and the total is
checked after each command (background jobs are not bounded by the cap: SECURITY.md says so). The
attack fills the workspace past a lowered cap with many files, then plants a FIFO for read_file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.nonroot import NonRoot, nonroot, nonroot_tmp
from tests.safety.helpers import finish, raw_call, run_fix, sh, shell_output
from tests.safety.repos import make_repo

pytestmark = pytest.mark.docker
__all__ = ["nonroot", "nonroot_tmp"]  # the fixtures, imported for pytest


@pytest.mark.attack
def test_nonroot_fill_is_reported_and_fifo_refused(nonroot_tmp: Path, nonroot: NonRoot) -> None:
    repo = nonroot.own(make_repo(nonroot_tmp / "repo"))
    folder = nonroot.own(nonroot_tmp / "run")
    turns = [
        sh("for i in $(seq 1 10); do head -c 10M /dev/zero > fill$i || break; done; echo filled"),
        sh("rm -f fill*; mkfifo p && id -u"),
        raw_call("read_file", path="p"),
        raw_call("edit_file", path="calc.py", old_text="return a - b", new_text="return a + b"),
        finish(),
    ]
    run = run_fix(
        repo,
        turns,
        folder,
        env={"QCODE_SANDBOX_DISK": "64m", "HOME": str(folder)},
        as_user=nonroot.prefix,
    )
    assert run.result["status"] == "resolved", (run.result, run.proc.stderr[-2000:])
    assert "over its 64 MiB cap" in run.obs(0)["text"], run.obs(0)["text"]
    assert shell_output(run.obs(1)).splitlines()[0] == str(nonroot.uid)  # the sandbox runs as the caller
    assert "not a regular file" in run.obs(2)["text"]
    assert Path(run.result["trajectory"]).stat().st_uid == nonroot.uid
