"""Attack 5: resource exhaustion is contained, reported to the model, and the next command works.

A fork bomb, a process allocating far past the memory limit, /tmp filled, a 1 GB single-line
output, and the workspace filled (many files, and one huge file). Memory is capped at 1 GiB for the
run (QCODE_SANDBOX_MEMORY) so the test is realistic on a 2-core / 24 GB machine and bounded in time.
While the heavy commands run, host-side operations (git, the Docker daemon) must still complete.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import docker
import pytest

from tests.safety.helpers import (
    FixRun,
    finish,
    raw_call,
    run_fix,
    session_workspace,
    sh,
    shell_output,
    start_fix,
    wait_until,
)
from tests.safety.repos import make_repo

pytestmark = pytest.mark.docker

ATTACKS = {
    "fork bomb": "touch .started-fork-bomb; bash -c ':(){ :|:& };:' 2>/dev/null; echo launched",
    "memory": "python3 -c \"x = b'x' * (3 * 1024**3); print('ALLOCATED')\"; echo exit=$?",
    "/tmp filled": "dd if=/dev/zero of=/tmp/fill bs=1M count=2048 2>&1 | tail -4; df -m /tmp | tail -1",
    "1 GB single line": "touch .started-output; head -c 1000000000 /dev/zero | tr '\\0' a; echo",
}
AFTER = "echo alive; pwd"


@pytest.fixture(scope="module")
def attacked(tmp_path_factory: pytest.TempPathFactory) -> tuple[FixRun, dict[str, float]]:
    base = tmp_path_factory.mktemp("resources")
    repo = make_repo(base / "repo")
    turns = [raw_call("update_plan", plan=[{"step": "exhaust", "status": "in_progress"}])]
    for command in ATTACKS.values():
        turns += [sh(command, timeout=240), sh(AFTER)]
    turns += [
        raw_call("edit_file", path="calc.py", old_text="return a - b", new_text="return a + b"),
        finish(),
    ]
    proc = start_fix(repo, turns, base / "run", env={"QCODE_SANDBOX_MEMORY": "1g"})
    try:
        workspace = wait_until(lambda: session_workspace(base / "run"), 120, "the workspace")
        host_ops = {}
        for started in (".started-fork-bomb", ".started-output"):
            wait_until(lambda s=started: (workspace / s).exists() or proc.poll() is not None, 300, started)
            host_ops[started] = _host_operations(repo)
        out, err = proc.communicate(timeout=900)
    finally:
        proc.kill()
    result = json.loads(out)
    assert result["status"] == "resolved", (result, err[-2000:])
    records = [json.loads(line) for line in Path(result["trajectory"]).read_text().splitlines()]
    return FixRun(subprocess.CompletedProcess([], proc.returncode, out, err), result, records), host_ops


def _host_operations(repo: Path) -> float:
    """Host-side work while the sandbox is under attack; returns how many of the checks completed."""
    done = 0
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, timeout=60)
    done += head.returncode == 0
    client = docker.from_env(timeout=60)
    try:
        done += bool(client.ping())
    finally:
        client.close()
    return done


def _pair(run: FixRun, label: str) -> tuple[dict, dict]:
    index = 1 + 2 * list(ATTACKS).index(label)
    return run.obs(index), run.obs(index + 1)


def _next_works(after: dict) -> None:
    assert after["ok"] is True and "alive" in shell_output(after).splitlines(), after["text"]


@pytest.mark.attack
def test_fork_bomb_is_contained_and_reset(attacked: tuple[FixRun, dict[str, float]]) -> None:
    run, host_ops = attacked
    bomb, after = _pair(run, "fork bomb")
    # caught right after the bomb's command, or at the latest before the next one, which then works
    assert "process limit was exhausted" in bomb["text"] + after["text"], bomb["text"]
    _next_works(after)
    assert host_ops[".started-fork-bomb"] == 2


@pytest.mark.attack
def test_memory_hog_is_killed_and_reported(attacked: tuple[FixRun, dict[str, float]]) -> None:
    run, _ = attacked
    hog, after = _pair(run, "memory")
    assert (
        not shell_output(hog).startswith("ALLOCATED")
        and "\nALLOCATED" not in hog["text"]
        and ("exit=137" in hog["text"] or "MemoryError" in hog["text"])
    ), hog
    _next_works(after)


@pytest.mark.attack
def test_filling_tmp_stops_at_its_cap(attacked: tuple[FixRun, dict[str, float]]) -> None:
    run, _ = attacked
    fill, after = _pair(run, "/tmp filled")
    assert "No space left on device" in fill["text"], fill["text"]
    size_mb = int(fill["text"].split("tmpfs")[1].split()[0])
    assert size_mb == 512, fill["text"]
    _next_works(after)


@pytest.mark.attack
def test_a_1gb_single_line_output_is_capped(attacked: tuple[FixRun, dict[str, float]]) -> None:
    run, host_ops = attacked
    flood, after = _pair(run, "1 GB single line")
    assert (
        "[... 999,970,001 characters omitted ...]" in flood["text"] or "characters omitted" in flood["text"]
    )
    assert len(flood["text"]) < 31_000 and shell_output(flood).startswith("aaaa")
    _next_works(after)
    assert host_ops[".started-output"] == 2
    assert len(run.trajectory_text) < 2_000_000  # the flood did not reach the trajectory either


@pytest.mark.attack
def test_filling_the_workspace_stops_at_its_cap(tmp_path: Path) -> None:
    # bounded even without a cap: at most 60 × 10 MB
    fill = "for i in $(seq 1 60); do head -c 10M /dev/zero > fill$i || break; done; du -sm . | cut -f1"
    big = "head -c 400M /dev/zero > one-big; echo exit=$?; rm -f one-big"
    turns = [
        raw_call("update_plan", plan=[{"step": "fill", "status": "in_progress"}]),
        sh(fill, timeout=240),
        sh("rm -f fill*; echo alive"),
        sh(big, timeout=240),
        sh(AFTER),
        raw_call("edit_file", path="calc.py", old_text="return a - b", new_text="return a + b"),
        finish(),
    ]
    run = run_fix(make_repo(tmp_path / "repo"), turns, tmp_path / "run", env={"QCODE_SANDBOX_DISK": "256m"})
    filled = run.obs(1)["text"]
    assert "No space left on device" in filled or "over its" in filled, filled
    sizes = [line for line in shell_output(run.obs(1)).splitlines() if line.strip().isdigit()]
    assert int(sizes[-1]) <= 256, filled
    _next_works(run.obs(2))
    assert "exit=0" not in run.obs(3)["text"], run.obs(3)["text"]
    _next_works(run.obs(4))
