"""Issue 13, class 4: single tool calls that made qcode hold gigabytes, and class 10.

Each attack is one `qcode fix` run whose own peak RSS (tests/safety/rss.py) must stay under
600 MB, whose observations stay under the hard cap, and which ends with a JSON result:
- `read_file` on a FIFO a sandbox process streams 1.5 GB into (the size check saw 0 bytes);
- `read_file` on a FIFO with no writer (qcode blocked in open() forever);
- `search` whose ripgrep output is huge: many matches under a path of ~3,800 characters;
- `git_diff` over a 300 MB file (no cap at all);
- a repository's `.qcode.toml` raising `output_limit` to 1e11, with the repo's own verify command
  printing 300 MB (a repository may only lower a limit);
- a folder nested 3,000 deep (RecursionError in cleanup, no JSON).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from qcode.tools.registry import OBSERVATION_LIMIT

from qcode.config import LOWER_ONLY, Settings, load_settings
from tests.safety.helpers import FixRun, finish, raw_call, run_fix, sh, shell_output
from tests.safety.repos import make_repo

pytestmark = pytest.mark.docker

PEAK_RSS_LIMIT_KIB = 600 * 1024
FIX = raw_call("edit_file", path="calc.py", old_text="return a - b", new_text="return a + b")
DEEP = "/".join(["d" * 250] * 15)  # ~3,800 characters: near PATH_MAX, repeated in every hit line


def _attack(
    tmp_path: Path, turns: list[dict[str, str]], files: dict[str, str] | None = None
) -> tuple[FixRun, int]:
    repo = make_repo(tmp_path / "repo", files)
    rss = tmp_path / "peak-rss"
    run = run_fix(repo, turns, tmp_path / "run", peak_rss_to=rss, timeout=300)
    return run, int(rss.read_text())


def _contained(run: FixRun, peak_kib: int) -> None:
    print(f"peak RSS of qcode: {peak_kib // 1024} MB")  # shown with -s: the number the issue asks for
    assert peak_kib < PEAK_RSS_LIMIT_KIB, f"qcode's peak RSS was {peak_kib // 1024} MB"
    assert run.result["status"] == "resolved", run.result
    assert all(len(o["text"]) <= OBSERVATION_LIMIT for o in run.observations)


@pytest.mark.attack
def test_read_file_on_a_streaming_fifo(tmp_path: Path) -> None:
    plant = (
        "mkfifo big.fifo && (setsid sh -c 'head -c 1500M /dev/zero | tr \"\\0\" a > big.fifo' "
        ">/dev/null 2>&1 &) && echo planted"
    )
    run, peak = _attack(tmp_path, [sh(plant), raw_call("read_file", path="big.fifo"), FIX, finish()])
    assert shell_output(run.obs(0)).startswith("planted")
    assert "not a regular file" in run.obs(1)["text"] and not run.obs(1)["ok"]
    _contained(run, peak)


@pytest.mark.attack
def test_fifos_without_a_writer_never_block(tmp_path: Path) -> None:
    turns = [
        sh("mkfifo lonely.fifo && echo planted"),
        raw_call("read_file", path="lonely.fifo"),
        raw_call("search", pattern="x", path="lonely.fifo"),
        raw_call("list_files", path="lonely.fifo"),
        raw_call("edit_file", path="lonely.fifo", old_text="a", new_text="b"),
        raw_call("write_file", path="lonely.fifo", content="b"),
        FIX,
        finish(),
    ]
    run, peak = _attack(tmp_path, turns)
    for index in range(1, 6):
        assert "not a regular file" in run.obs(index)["text"], run.obs(index)
    _contained(run, peak)


@pytest.mark.attack
def test_search_output_from_long_paths_is_capped(tmp_path: Path) -> None:
    plant = (
        f"mkdir -p {DEEP} && cd {DEEP} && seq 1 50 | sed 's/^/hit /' > f0 && "
        "for i in $(seq 1 1500); do ln f0 f$i; done && cd /workspace && echo planted"
    )
    run, peak = _attack(tmp_path, [sh(plant), raw_call("search", pattern="hit"), FIX, finish()])
    assert shell_output(run.obs(0)).startswith("planted"), run.obs(0)
    assert "hit 1" in run.obs(1)["text"]
    _contained(run, peak)


@pytest.mark.attack
def test_git_diff_of_a_huge_file_is_capped(tmp_path: Path) -> None:
    plant = "yes 'a line of a very large file' | head -c 300M > big.txt && echo planted"
    run, peak = _attack(tmp_path, [sh(plant), raw_call("git_diff"), FIX, finish()])
    assert "+a line of a very large file" in run.obs(1)["text"]
    assert "diff cut at" in run.obs(1)["text"] or "characters cut" in run.obs(1)["text"]
    assert Path(run.result["trajectory"]).stat().st_size < 20_000_000
    _contained(run, peak)


@pytest.mark.attack
def test_repository_cannot_raise_output_limit(tmp_path: Path) -> None:
    toml = 'output_limit = 100000000000\nverify_command = "yes | head -c 300M; true"\n'
    flood = sh("yes | head -c 300M")
    run, peak = _attack(tmp_path, [flood, FIX, finish()], {".qcode.toml": toml})
    assert len(run.obs(0)["text"]) < 2 * Settings().output_limit
    assert len(run.result["verify"]["output"]) <= 2000
    _contained(run, peak)


@pytest.mark.attack
def test_repository_may_only_lower_limits(tmp_path: Path) -> None:
    """Every limit a repository may set: raised values are ignored, lowered ones apply."""
    repo = tmp_path / "repo"
    repo.mkdir()
    user = tmp_path / "user.toml"
    user.write_text("")
    raised = {key: 10**11 for key in LOWER_ONLY}
    (repo / ".qcode.toml").write_text("".join(f"{key} = {value}\n" for key, value in raised.items()))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QCODE_CONFIG", str(user))
        loaded = load_settings({}, repo)
        for key in LOWER_ONLY:
            assert getattr(loaded.settings, key) == Settings.model_fields[key].default, key
            assert loaded.sources[key] == "default"
        (repo / ".qcode.toml").write_text("max_steps = 3\noutput_limit = 2000\n")
        lowered = load_settings({}, repo).settings
    assert (lowered.max_steps, lowered.output_limit) == (3, 2000)


@pytest.mark.attack
def test_folder_nested_3000_deep_ends_with_a_result(tmp_path: Path) -> None:
    plant = "python3 -c \"import os; [(os.mkdir('n'), os.chdir('n')) for _ in range(3000)]\" && echo planted"
    run, peak = _attack(tmp_path, [sh(plant), raw_call("list_files", pattern="*.py"), FIX, finish()])
    assert shell_output(run.obs(0)).startswith("planted"), run.obs(0)
    _contained(run, peak)
