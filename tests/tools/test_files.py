"""read_file, list_files, write_file and edit_file on real folders with real git and ripgrep."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from qcode.agent.exceptions import ToolError
from qcode.tools import files, paths
from qcode.tools.edit_match import EditError


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "pkg" / "app.py").write_text("def main():\n    return 1\n")
    (root / "src" / "util.py").write_text("X = 1\n")
    (root / "README.md").write_text("# demo\n")
    (root / ".gitignore").write_text("build/\n*.log\n")
    (root / "build").mkdir()
    (root / "build" / "out.py").write_text("generated\n")
    (root / "debug.log").write_text("noise\n")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root


@pytest.fixture(params=["rg", "git"])
def lister(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run listing tests with ripgrep and with the git fallback."""
    if request.param == "git":
        monkeypatch.setattr(paths, "find_rg", lambda: None)
    else:
        assert paths.find_rg() is not None
    return str(request.param)


# ---------------------------------------------------------------- read_file


def test_read_numbers_lines(repo: Path) -> None:
    assert files.read_file(repo, "src/pkg/app.py") == "     1\tdef main():\n     2\t    return 1"


def test_read_a_range(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("".join(f"line {n}\n" for n in range(1, 11)))
    out = files.read_file(tmp_path, "f.txt", start_line=3, end_line=4)
    assert out == "     3\tline 3\n     4\tline 4"


def test_read_caps_long_files_and_says_how_to_continue(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_text("".join(f"{n}\n" for n in range(1, 2501)))
    out = files.read_file(tmp_path, "big.txt").splitlines()
    assert len(out) == files.MAX_LINES + 1
    assert out[-2] == f"  {files.MAX_LINES}\t{files.MAX_LINES}"
    assert "start_line=2001" in out[-1] and "of 2500" in out[-1]
    assert files.read_file(tmp_path, "big.txt", start_line=2001).splitlines()[-1] == "  2500\t2500"


def test_read_caps_bytes(tmp_path: Path) -> None:
    (tmp_path / "wide.txt").write_text(("x" * 999 + "\n") * 500)
    out = files.read_file(tmp_path, "wide.txt")
    assert len(out) < files.MAX_BYTES + 200
    assert "read more with start_line=" in out.splitlines()[-1]


def test_read_shows_crlf_lines_without_carriage_returns(tmp_path: Path) -> None:
    (tmp_path / "w.txt").write_bytes(b"a\r\nb\r\n")
    assert files.read_file(tmp_path, "w.txt") == "     1\ta\n     2\tb"


def test_read_refuses_binary_files(tmp_path: Path) -> None:
    (tmp_path / "img.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    with pytest.raises(ToolError, match="binary"):
        files.read_file(tmp_path, "img.png")


def test_read_missing_file_suggests_close_paths(repo: Path) -> None:
    with pytest.raises(ToolError) as err:
        files.read_file(repo, "src/app.py")
    assert "does not exist" in str(err.value)
    assert "src/pkg/app.py" in str(err.value)


def test_read_out_of_range_and_folder_errors(repo: Path) -> None:
    with pytest.raises(ToolError, match="has 2 lines"):
        files.read_file(repo, "src/pkg/app.py", start_line=5)
    with pytest.raises(ToolError, match="list_files"):
        files.read_file(repo, "src")


# ---------------------------------------------------------------- list_files


def test_list_respects_gitignore(repo: Path, lister: str) -> None:
    listed = files.list_files(repo).splitlines()
    assert listed == [".gitignore", "README.md", "src/pkg/app.py", "src/util.py"]


def test_list_under_a_folder_with_a_glob(repo: Path, lister: str) -> None:
    assert files.list_files(repo, "src", "*.py").splitlines() == ["src/pkg/app.py", "src/util.py"]
    assert files.list_files(repo, pattern="*.md") == "README.md"
    assert "no files" in files.list_files(repo, "src", "*.rs")


def test_list_survives_a_file_name_that_is_not_utf8(tmp_path: Path, lister: str) -> None:
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "ok.py").write_text("x")
    with open(bytes(tmp_path) + b"/bad\xff.txt", "wb") as handle:  # a Latin-1 name from an old archive
        handle.write(b"x")
    listed = files.list_files(tmp_path).splitlines()
    assert listed == ["bad\udcff.txt", "ok.py"]


def test_list_caps_the_count(tmp_path: Path, lister: str, monkeypatch: pytest.MonkeyPatch) -> None:
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    for n in range(12):
        (tmp_path / f"f{n:02}.txt").write_text("x")
    monkeypatch.setattr(files, "MAX_LIST", 5)
    out = files.list_files(tmp_path).splitlines()
    assert out[:5] == ["f00.txt", "f01.txt", "f02.txt", "f03.txt", "f04.txt"]
    assert "5 of 12" in out[5]


def test_list_refuses_outside(repo: Path) -> None:
    with pytest.raises(ToolError):
        files.list_files(repo, "..")


# ---------------------------------------------------------------- write_file


def test_write_creates_with_parents_and_reports_a_diff(repo: Path) -> None:
    data = files.write_file(repo, "new/deep/mod.py", "A = 1\n")
    assert (repo / "new" / "deep" / "mod.py").read_text() == "A = 1\n"
    assert data["created"] is True and data["path"] == "new/deep/mod.py"
    assert "+A = 1" in data["diff"]


def test_write_overwrites_with_an_old_to_new_diff(repo: Path) -> None:
    data = files.write_file(repo, "src/util.py", "X = 2\n")
    assert data["created"] is False
    assert "-X = 1\n+X = 2\n" in data["diff"]
    assert (repo / "src" / "util.py").read_text() == "X = 2\n"


def test_write_refuses_a_folder(repo: Path) -> None:
    with pytest.raises(ToolError, match="folder"):
        files.write_file(repo, "src", "x")


# ---------------------------------------------------------------- edit_file


def test_edit_writes_the_file_and_returns_diff_strategy_and_line(repo: Path) -> None:
    data = files.edit_file(repo, "src/pkg/app.py", "    return 1\n", "    return 2\n")
    assert (repo / "src" / "pkg" / "app.py").read_text() == "def main():\n    return 2\n"
    assert data["strategy"] == "exact" and data["line"] == 2 and data["path"] == "src/pkg/app.py"
    assert "-    return 1\n+    return 2\n" in data["diff"]


def test_edit_keeps_crlf_bytes(tmp_path: Path) -> None:
    (tmp_path / "w.bat").write_bytes(b"echo a\r\necho b  \r\n")
    data = files.edit_file(tmp_path, "w.bat", "echo b\n", "echo c\n")
    assert data["strategy"] == "whitespace"
    assert (tmp_path / "w.bat").read_bytes() == b"echo a\r\necho c\r\n"


def test_failed_edit_names_the_file_and_leaves_it_alone(repo: Path) -> None:
    before = (repo / "src" / "util.py").read_bytes()
    with pytest.raises(EditError, match="src/util.py"):
        files.edit_file(repo, "src/util.py", "Y = 7\n", "Y = 8\n")
    assert (repo / "src" / "util.py").read_bytes() == before


def test_edit_missing_file_suggests_paths(repo: Path) -> None:
    with pytest.raises(ToolError, match="src/util.py"):
        files.edit_file(repo, "src/utils.py", "X", "Y")
