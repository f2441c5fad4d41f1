"""A typo in the user config: one line with "did you mean", and `qcode config` still shows the rest."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.e2e.helpers import run_qcode


@pytest.mark.slow
def test_a_typo_is_named_with_the_closest_setting(make_repo) -> None:
    Path(os.environ["QCODE_CONFIG"]).write_text('max_step = 5\napproval = "yolo"\n')
    repo = make_repo({"a.py": "x = 1\n"})

    fix = run_qcode("fix", "x", "--repo", str(repo), "--engine", "replay:/nonexistent")
    assert fix.returncode == 2
    (line,) = fix.stderr.strip().splitlines()
    assert "unknown setting 'max_step'" in line and "did you mean 'max_steps'?" in line

    shown = run_qcode("config", "--json")
    assert shown.returncode == 2 and "did you mean 'max_steps'?" in shown.stderr
    values = json.loads(shown.stdout)
    assert values["approval"]["value"] == "yolo" and values["approval"]["source"].startswith("user")
    assert values["max_steps"]["source"] == "default"

    Path(os.environ["QCODE_CONFIG"]).write_text("zzzz_qq = 1\n")  # nothing close: where the names are
    far = run_qcode("config")
    assert (
        far.returncode == 2 and "`qcode config` lists the names" in far.stderr and "max_steps" in far.stdout
    )
