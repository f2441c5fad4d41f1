"""Issue 13, class 5: host disk outside the cap.

The host-only git dir kept every checkpoint's blobs forever: rewriting a few bytes of a big file
again and again grew `host.git` by the file's size each time. With a (lowered) byte budget the
oldest checkpoints are dropped and pruned, the directory stays near the budget, and an undo past
the kept checkpoints says so instead of silently going elsewhere.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from qcode.sandbox.quota import disk_usage

from tests.safety.helpers import finish, raw_call, run_fix, sh
from tests.safety.repos import make_repo

pytestmark = pytest.mark.docker

MB = 2**20
FILE_MB, BUDGET_MB, REWRITES = 12, 30, 6


@pytest.mark.attack
def test_checkpoints_of_a_rewritten_big_file_stay_in_budget(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    # Incompressible, so each version costs its full size in host.git; write_file is a mutating
    # tool, so a checkpoint is taken before each rewrite.
    turns = [sh(f"head -c {FILE_MB}M /dev/urandom > big.bin && echo planted")]
    for n in range(REWRITES):
        turns += [
            raw_call("write_file", path=f"note{n}.txt", content=f"{n}\n"),
            sh(f"printf 'v{n:03d}' | dd of=big.bin bs=1 seek=0 conv=notrunc 2>/dev/null; echo ok"),
        ]
    turns += [
        raw_call("edit_file", path="calc.py", old_text="return a - b", new_text="return a + b"),
        finish(),
    ]
    folder = tmp_path / "run"
    run = run_fix(
        repo, turns, folder, env={"QCODE_CHECKPOINT_BYTES": f"{BUDGET_MB}m"}, args=("--max-steps", "40")
    )
    assert run.result["status"] == "resolved", run.result
    host_git = next((folder / "state" / "sessions").glob("*/host.git"))
    used = disk_usage(host_git / "objects")
    assert used < (BUDGET_MB + FILE_MB) * MB, f"host.git holds {used // MB} MB"  # without: ~{7*12} MB

    env = {
        **os.environ,
        "QCODE_STATE_DIR": str(folder / "state"),
        "QCODE_CONFIG": str(folder / "user-config.toml"),
    }
    undo = subprocess.run(
        [sys.executable, "-m", "qcode", "undo", "--repo", str(repo), "--steps", "20", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert undo.returncode != 0 and "dropped" in undo.stderr, (undo.stdout, undo.stderr)
    assert not undo.stdout.strip() or "error" in json.loads(undo.stdout)
