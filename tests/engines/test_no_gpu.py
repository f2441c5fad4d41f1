"""No GPU: the default vllm engine refuses at once, with the alternatives, before torch loads."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from qcode.agent.engines import accelerator
from textual.widgets import Static

from qcode.config import load_settings
from qcode.tui.app import QcodeApp
from tests.tui.conftest import until

# A real `qcode fix` in a fresh interpreter, with the device probe pointed at nothing (this machine
# has vLLM's CPU build installed for the test suite, which would count as an accelerator).
NO_GPU_FIX = """
import json, sys
from qcode.agent.engines import accelerator
accelerator.DEVICE_PATTERNS, accelerator.CPU_BUILDS = (), ()
from qcode.cli import main
sys.argv = ["qcode", "fix", "some bug", "--repo", sys.argv[1]]
try:
    main()
except SystemExit as done:
    code = done.code
print(json.dumps({"code": code, "torch": "torch" in sys.modules, "vllm": "vllm" in sys.modules}))
"""


@pytest.mark.slow
def test_fix_refuses_without_a_gpu_before_importing_torch(make_repo) -> None:
    repo = make_repo({"a.py": "x = 1\n"})
    done = subprocess.run(
        [sys.executable, "-c", NO_GPU_FIX, str(repo)], capture_output=True, text=True, timeout=120
    )
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome == {"code": 2, "torch": False, "vllm": False}, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "no NVIDIA GPU" in line and "--engine openai" in line and "qcode demo" in line
    assert "Error" not in line


def test_the_probe_reads_device_files_and_the_cpu_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(accelerator, "DEVICE_PATTERNS", (str(tmp_path / "nvidia[0-9]*"),))
    monkeypatch.setattr(accelerator, "CPU_BUILDS", ("no-such-distribution-qcode",))
    assert accelerator.accelerator() is None
    (tmp_path / "nvidia0").touch()
    assert accelerator.accelerator() == "gpu"
    (tmp_path / "nvidia0").unlink()
    monkeypatch.setattr(accelerator, "CPU_BUILDS", ("pytest",))  # any installed distribution
    assert accelerator.accelerator() == "cpu"


def test_the_tui_shows_the_refusal_without_a_class_name(make_repo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accelerator, "DEVICE_PATTERNS", ())
    monkeypatch.setattr(accelerator, "CPU_BUILDS", ())
    repo = make_repo({"a.py": "x = 1\n"})
    settings = load_settings({"engine": "vllm"}, repo).settings

    async def scenario() -> str:
        app = QcodeApp(settings, repo)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.state == "error", "the engine error")
            (note,) = [str(w.render()) for w in app.query(".note").results(Static)]
            await pilot.press("ctrl+q")
            await until(pilot, lambda: app.return_code is not None, "the app to exit")
        return note

    note = asyncio.run(scenario())
    assert note.startswith("no NVIDIA GPU") and "UserError" not in note
