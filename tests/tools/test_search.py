"""search: ripgrep and the pure-Python fallback give the same file:line:text answers."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from qcode.agent.exceptions import ToolError
from qcode.tools import paths, search


@pytest.fixture(params=["rg", "python"])
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "python":
        monkeypatch.setattr(paths, "find_rg", lambda: None)
    else:
        assert paths.find_rg() is not None
    return str(request.param)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("import os\n\ndef main():\n    return os.getcwd()\n")
    (root / "src" / "util.js").write_text("function main() {}\n")
    (root / "docs.md").write_text("call main() first\n")
    (root / ".gitignore").write_text("build/\n")
    (root / "build").mkdir()
    (root / "build" / "gen.py").write_text("def main(): pass\n")
    (root / "blob.bin").write_bytes(b"main\x00\x01\x02")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "leak.py").write_text("def main(): leaked\n")
    (root / "linked").symlink_to(outside, target_is_directory=True)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root


def test_matches_as_file_line_text(repo: Path, engine: str) -> None:
    assert search.search(repo, r"def \w+\(") == "src/app.py:3:def main():"


def test_skips_ignored_binary_and_symlinked_content(repo: Path, engine: str) -> None:
    out = search.search(repo, "main")
    assert out.splitlines() == [
        "docs.md:1:call main() first",
        "src/app.py:3:def main():",
        "src/util.js:1:function main() {}",
    ]


def test_path_and_glob_narrow_the_search(repo: Path, engine: str) -> None:
    assert search.search(repo, "main", path="src", glob="*.js") == "src/util.js:1:function main() {}"
    assert search.search(repo, "main", path="src/app.py") == "src/app.py:3:def main():"


def test_no_match_says_so(repo: Path, engine: str) -> None:
    assert search.search(repo, "nothing_like_this").startswith("No matches")


def test_invalid_regex_names_the_problem(repo: Path, engine: str) -> None:
    with pytest.raises(
        ToolError, match=r"invalid regular expression '\(unclosed': (unclosed group|missing \))"
    ):
        search.search(repo, "(unclosed")


def test_total_match_cap_adds_a_note(tmp_path: Path, engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "many.txt").write_text("hit\n" * 30)
    monkeypatch.setattr(search, "MAX_MATCHES", 10)
    out = search.search(tmp_path, "hit").splitlines()
    assert out[:10] == [f"many.txt:{n}:hit" for n in range(1, 11)]
    assert len(out) == 11 and "first 10 matches" in out[10]


def test_long_lines_are_cut(tmp_path: Path, engine: str) -> None:
    (tmp_path / "min.js").write_text("needle" + "x" * 5000 + "\n")
    out = search.search(tmp_path, "needle")
    assert out.startswith("min.js:1:needle")
    assert len(out) < 1000


def test_paths_outside_are_refused(repo: Path, engine: str) -> None:
    with pytest.raises(ToolError):
        search.search(repo, "main", path="linked")
    with pytest.raises(ToolError):
        search.search(repo, "main", path="../outside")
