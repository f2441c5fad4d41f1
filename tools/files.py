"""Host-side file tools over a workspace folder: read, list, write, edit.

Every read and write goes through `paths.open_in_workspace`, so no tool reaches outside the
workspace. Failures the model can fix raise `ToolError` with text written for the model.
"""

from __future__ import annotations

import difflib
import fnmatch
import os
from pathlib import Path, PurePosixPath
from typing import Any

from qcode.agent.exceptions import GitError, ToolError
from qcode.agent.hostgit import run_git
from qcode.tools import paths
from qcode.tools.edit_match import EditError, apply_edit
from rapidfuzz import fuzz, process

__all__ = ["edit_file", "list_files", "read_file", "workspace_files", "write_file"]

MAX_LINES = 2000  # read_file: lines per call
MAX_BYTES = 100_000  # read_file: characters of output per call
MAX_LINE_CHARS = 2000  # read_file: longer lines (minified code) are cut
MAX_FILE_BYTES = 20_000_000  # files larger than this are not loaded at all
MAX_LIST = 1000  # list_files: paths per call


def read_file(root: Path, path: str, start_line: int | None = None, end_line: int | None = None) -> str:
    """Numbered lines ("  12\\tcode") of a text file, capped, with a note on how to read on."""
    text = _read_text(root, path)
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    if not lines or text == "":
        return f"({path} is empty)"
    start = start_line or 1
    if start < 1 or start > len(lines):
        raise ToolError(f"start_line={start} is outside {path}, which has {len(lines)} lines.")
    if end_line is not None and end_line < start:
        raise ToolError(f"end_line={end_line} is before start_line={start}.")
    last = min(len(lines), end_line or len(lines), start + MAX_LINES - 1)
    out: list[str] = []
    size = 0
    for number in range(start, last + 1):
        line = lines[number - 1].removesuffix("\r")
        if len(line) > MAX_LINE_CHARS:
            line = f"{line[:MAX_LINE_CHARS]} [... line cut, {len(line)} characters]"
        entry = f"{number:>6}\t{line}"
        if out and size + len(entry) > MAX_BYTES:
            last = number - 1
            break
        out.append(entry)
        size += len(entry) + 1
    if last < len(lines) and (end_line is None or last < end_line):
        out.append(f"[showing lines {start}-{last} of {len(lines)}; read more with start_line={last + 1}]")
    return "\n".join(out)


def list_files(root: Path, path: str | None = None, pattern: str | None = None) -> str:
    """Files under `path` (default: everything), .gitignore respected; `pattern` is a glob."""
    files = workspace_files(root, path, pattern)
    if not files:
        where = f" under {path!r}" if path else ""
        what = f" matching {pattern!r}" if pattern else ""
        return f"(no files{where}{what})"
    shown = files[:MAX_LIST]
    if len(files) > MAX_LIST:
        shown.append(f"[showing {MAX_LIST} of {len(files)} files; narrow it with path= or pattern=]")
    return "\n".join(shown)


def write_file(root: Path, path: str, content: str) -> dict[str, Any]:
    """Create or overwrite a file (parent folders are created inside the workspace)."""
    real = paths.resolve_in_workspace(root, path)
    if real.is_dir():
        raise ToolError(f"{path!r} is a folder; give a file path such as '{path}/new_file.py'.")
    created = not real.exists()
    old = "" if created else _decode(_read_bytes(root, path), path, quiet=True)
    with paths.open_in_workspace(root, path, "wb") as handle:
        handle.write(content.encode("utf-8"))
    rel = paths.workspace_relative(root, real)
    return {"path": rel, "created": created, "diff": _diff(rel, old, content)}


def edit_file(
    root: Path, path: str, old_text: str, new_text: str, replace_all: bool = False
) -> dict[str, Any]:
    """Replace old_text with new_text (tolerant matching, see edit_match)."""
    text = _read_text(root, path)
    try:
        result = apply_edit(text, old_text, new_text, replace_all)
    except EditError as err:
        raise EditError(f"edit_file {path}: {err}") from None
    with paths.open_in_workspace(root, path, "wb") as handle:
        handle.write(result.new_content.encode("utf-8"))
    rel = paths.workspace_relative(root, paths.resolve_in_workspace(root, path))
    return {
        "path": rel,
        "diff": _diff(rel, text, result.new_content),
        "strategy": result.strategy,
        "line": result.start_line,
        "count": result.count,
    }


def workspace_files(root: Path, path: str | None = None, pattern: str | None = None) -> list[str]:
    """Sorted workspace-relative file paths: ripgrep, else git, else a plain walk."""
    base = paths.resolve_in_workspace(root, path or ".", must_exist=True)
    paths.require_file_or_folder(base, path or ".")
    rel = paths.workspace_relative(root, base)
    if base.is_file():
        return [rel] if _glob_ok(rel, pattern) else []
    found = _rg_files(root, rel, pattern)
    if found is None:
        found = _git_files(root, rel)
        if found is None:
            found = _walk_files(root, base)
        found = [f for f in found if _glob_ok(f, pattern)]
    return sorted(set(found))


# ---------------------------------------------------------------- reading


def _read_bytes(root: Path, path: str) -> bytes:
    real = paths.resolve_in_workspace(root, path)
    if not real.exists():
        raise ToolError(f"{path!r} does not exist.{_did_you_mean(root, path)}")
    if real.is_dir():
        raise ToolError(f"{path!r} is a folder, not a file; use list_files(path={path!r}).")
    return paths.read_capped(root, path, MAX_FILE_BYTES)  # regular files only, never past the cap


def _read_text(root: Path, path: str) -> str:
    return _decode(_read_bytes(root, path), path)


def _decode(data: bytes, path: str, *, quiet: bool = False) -> str:
    """UTF-8 text, or a refusal for binary data (quiet: binary becomes "" for diffs)."""
    try:
        if b"\x00" in data[:8192]:
            raise UnicodeDecodeError("utf-8", data[:1], 0, 1, "NUL byte")
        return data.decode("utf-8")
    except UnicodeDecodeError:
        if quiet:
            return ""
        raise ToolError(
            f"{path!r} is a binary (or non-UTF-8) file of {len(data)} bytes; it is not shown. "
            "Use the shell tool (e.g. `file`, `xxd | head`) if you need to inspect it."
        ) from None


def _did_you_mean(root: Path, path: str) -> str:
    try:
        files = workspace_files(root)
    except ToolError:
        return ""
    name = PurePosixPath(path).name
    same_name = [f for f in files if PurePosixPath(f).name == name]
    close = [
        hit for hit, _score, _i in process.extract(path, files, scorer=fuzz.WRatio, limit=3, score_cutoff=70)
    ]
    picks = list(dict.fromkeys([*same_name[:3], *close]))[:3]
    if not picks:
        return " Use list_files to see what exists."
    return " Did you mean: " + ", ".join(picks) + "?"


def _diff(rel: str, old: str, new: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{rel}", f"b/{rel}"
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


# ---------------------------------------------------------------- listing


def _glob_ok(rel: str, pattern: str | None) -> bool:
    """Like ripgrep's --glob: without '/', the pattern matches the file name anywhere."""
    if not pattern:
        return True
    if "/" not in pattern:
        return fnmatch.fnmatchcase(PurePosixPath(rel).name, pattern)
    return fnmatch.fnmatchcase(rel, pattern) or fnmatch.fnmatchcase(rel, pattern.removeprefix("**/"))


def _rg_files(root: Path, rel: str, pattern: str | None) -> list[str] | None:
    extra = ["--glob", pattern] if pattern else []
    return paths.rg_files(root, extra + (["--", rel] if rel != "." else []))


def _git_files(root: Path, rel: str) -> list[str] | None:
    # The workspace's .git is sandbox-writable: run_git applies every host-side git safeguard.
    try:
        out = run_git(["ls-files", "--cached", "--others", "--exclude-standard", "-z", "--", rel], root)
    except GitError:
        return None
    names = [name for name in out.split("\0") if name]
    return [n for n in names if os.path.lexists(os.path.join(root, n))]  # drop deleted files


def _walk_files(root: Path, base: Path) -> list[str]:
    """Last resort outside git without ripgrep: every file, skipping .git."""
    found = []
    for folder, dirs, names in os.walk(base):
        dirs[:] = [d for d in dirs if d != ".git"]
        found += [paths.workspace_relative(root, Path(folder) / n) for n in names]
    return found
