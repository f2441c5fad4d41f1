"""build_repo_map on real git repositories: cache reuse, incrementality, bad input, corrupt stores."""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from qcode.agent.exceptions import UserError
from qcode.tools.repomap import build_repo_map
from qcode.tools.repomap.worker import CRASHED, parse_isolated

FILES = {
    "shop/cart.py": (
        "from shop.money import Money\n\nclass Cart:\n    def total(self):\n        return Money(1)\n"
    ),
    "shop/money.py": "class Money:\n    def __init__(self, amount):\n        self.amount = amount\n",
    "shop/views.py": "from shop.cart import Cart\n\ndef show():\n    return Cart().total()\n",
    "web/app.ts": "export class Server { start(): void { listen(); } }\nfunction listen() {}\n",
    "README.md": "# shop\n",
}


@pytest.fixture
def repo(make_repo: Callable[[dict[str, str]], Path]) -> Path:
    return make_repo(FILES)


def test_map_lists_the_focus_file_first_with_signatures(repo: Path, tmp_path: Path) -> None:
    result = build_repo_map(repo, focus="Cart.total is wrong", tokens=500, cache_dir=tmp_path / "c")
    assert result.files[0] == "shop/cart.py"
    assert "shop/cart.py\n     3│class Cart:\n     4│    def total(self):\n" in result.text
    assert set(result.files) == {"shop/cart.py", "shop/money.py", "shop/views.py", "web/app.ts"}
    assert result.notes == []


@pytest.mark.slow
def test_second_build_reuses_the_cache_and_an_edit_reparses_one_file(repo: Path, tmp_path: Path) -> None:
    cache = tmp_path / "c"
    assert build_repo_map(repo, cache_dir=cache).stats["parsed"] == 4
    assert build_repo_map(repo, cache_dir=cache).stats["parsed"] == 0
    (repo / "shop/money.py").write_text(FILES["shop/money.py"] + "\ndef rounded(x):\n    return x\n")
    again = build_repo_map(repo, focus="rounded", cache_dir=cache)
    assert (again.stats["parsed"], again.stats["cached"]) == (1, 3)
    assert again.files[0] == "shop/money.py" and "def rounded(x):" in again.text
    (repo / "shop/views.py").unlink()
    assert "shop/views.py" not in build_repo_map(repo, cache_dir=cache).files


def test_a_copy_of_the_repository_is_served_by_content_hash(repo: Path, tmp_path: Path) -> None:
    cache = tmp_path / "c"
    first = build_repo_map(repo, focus="Money", cache_dir=cache)
    copy = tmp_path / "copy"
    shutil.copytree(repo, copy)  # new path, new mtimes: what every session workspace looks like
    second = build_repo_map(copy, focus="Money", cache_dir=cache)
    assert second.stats["parsed"] == 0 and second.text == first.text


def test_gitignored_vendored_and_unknown_files_are_left_out(
    make_repo: Callable[[dict[str, str]], Path], tmp_path: Path
) -> None:
    repo = make_repo(
        {
            **FILES,
            ".gitignore": "generated/\n",
            "generated/out.py": "def hidden(): pass\n",
            "node_modules/lib/index.js": "function vendored() {}\n",
            "data.xyz": "def nope(): pass\n",
            "static/app.min.js": "function minified(){}\n",
        }
    )
    text = build_repo_map(repo, tokens=4000, cache_dir=tmp_path / "c").text
    assert not {"hidden", "vendored", "nope", "minified"} & set(text.replace("(", " ").split())


def test_bad_input_is_skipped_or_partial_with_notes_never_a_crash(repo: Path, tmp_path: Path) -> None:
    (repo / "broken.py").write_text("def fine():\n    pass\n\ndef broken(:\n")
    (repo / "latin.py").write_bytes(b"def caf\xe9():\n    return '\xff'\n")
    (repo / "blob.py").write_bytes(b"\x00\x01binary" * 100)
    (repo / "bundle.js").write_text("var a=function(){return 1};" * 5000)
    with open(repo / "huge.js", "wb") as handle:  # 100 MB, sparse: must be skipped without reading it
        handle.truncate(100_000_000)
    (repo / "loop_a").symlink_to("loop_b")
    (repo / "loop_b").symlink_to("loop_a")
    (repo / "dir_loop").symlink_to(".", target_is_directory=True)
    (repo / "link.py").symlink_to(repo / "shop/cart.py")
    result = build_repo_map(repo, tokens=4000, cache_dir=tmp_path / "c")
    notes = "\n".join(result.notes)
    assert "syntax errors" in notes and "broken.py" in notes
    assert "binary" in notes and "minified" in notes and "larger than 1 MB" in notes and "huge.js" in notes
    assert "broken.py" in result.files and "latin.py" in result.files
    assert not {"blob.py", "bundle.js", "huge.js", "link.py"} & set(result.files)
    assert not any(f.startswith("dir_loop") for f in result.files)


def test_a_corrupt_cache_file_is_moved_aside_and_rebuilt(repo: Path, tmp_path: Path) -> None:
    cache = tmp_path / "c"
    cache.mkdir()
    (cache / "tags.sqlite").write_bytes(b"this is not a database" * 100)
    result = build_repo_map(repo, focus="Cart", cache_dir=cache)
    assert result.files[0] == "shop/cart.py"
    assert any("corrupt" in note for note in result.notes)
    assert (cache / "tags.sqlite.corrupt").exists()
    assert build_repo_map(repo, cache_dir=cache).stats["parsed"] == 0


def test_damaged_cache_entries_are_parsed_again(repo: Path, tmp_path: Path) -> None:
    cache = tmp_path / "c"
    expected = build_repo_map(repo, focus="Cart", cache_dir=cache).text
    with sqlite3.connect(cache / "tags.sqlite") as db:
        db.execute("UPDATE blobs SET data = x'00ff00ff'")
    result = build_repo_map(repo, focus="Cart", cache_dir=cache)
    assert result.text == expected and result.stats["parsed"] == 4


def test_an_unwritable_cache_folder_still_gives_a_map(repo: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = build_repo_map(repo, focus="Cart", cache_dir=blocker / "c")
    assert result.files[0] == "shop/cart.py"
    assert any("tag cache unusable" in note for note in result.notes)


@pytest.mark.slow
def test_many_files_parse_in_workers_like_in_one(
    make_repo: Callable[[dict[str, str]], Path], tmp_path: Path
) -> None:
    files = {f"pkg/m{i}.py": f"def func_{i}():\n    return func_{i + 1}()\n" for i in range(250)}
    repo = make_repo(files)
    parallel = build_repo_map(repo, focus="func_7", cache_dir=tmp_path / "a", workers=2)
    serial = build_repo_map(repo, focus="func_7", cache_dir=tmp_path / "b", workers=1)
    assert parallel.stats["parsed"] == 250 and parallel.text == serial.text
    assert parallel.files[0] == "pkg/m7.py"


@pytest.mark.slow
def test_a_worker_that_dies_costs_only_the_file_that_killed_it(tmp_path: Path) -> None:
    # A language the worker cannot know raises KeyError inside it: the process exits non-zero,
    # like a segfaulting grammar would. Its batch is split until that one file is isolated.
    items = [(f"ok{i}.py", b"def f(): pass\n", "python") for i in range(5)] + [
        ("bad.x", b"x", "no-such-lang")
    ]
    parsed = parse_isolated(items, 1)
    assert parsed["bad.x"].note == CRASHED
    assert all(parsed[f"ok{i}.py"].defs for i in range(5))


def test_not_a_folder_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not a folder"):
        build_repo_map(tmp_path / "missing", cache_dir=tmp_path / "c")


def test_the_repository_is_not_written(repo: Path, tmp_path: Path) -> None:
    before = sorted(str(p.relative_to(repo)) for p in repo.rglob("*") if ".git" not in p.parts)
    build_repo_map(repo, focus="Cart", cache_dir=tmp_path / "c")
    after = sorted(str(p.relative_to(repo)) for p in repo.rglob("*") if ".git" not in p.parts)
    assert before == after
    assert os.listdir(tmp_path / "c")
