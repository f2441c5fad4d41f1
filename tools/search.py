"""Regex search over the workspace: "file:line:text" lines.

ripgrep does the work when it is installed (no symlink following, .gitignore respected); a
pure-Python walk with `re` stands in when it is not. Both cap line length and match count.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from qcode.agent.bounded import run_bounded
from qcode.agent.exceptions import ToolError
from qcode.tools import files, paths

__all__ = ["search"]

MAX_MATCHES = 200  # matches shown per call
MAX_PER_FILE = 50  # so one noisy file cannot crowd out the rest
MAX_COLUMNS = 300  # longer matching lines are cut
MAX_SCAN_BYTES = 2_000_000  # the fallback skips larger files
MAX_OUTPUT_BYTES = 1_000_000  # ripgrep's output kept on the host; long paths cannot grow it further


def search(root: Path, pattern: str, path: str | None = None, glob: str | None = None) -> str:
    """Lines matching the regex `pattern` under `path`, optionally only files matching `glob`."""
    if not pattern:
        raise ToolError("pattern is empty; give a regular expression such as 'def main'.")
    base = paths.resolve_in_workspace(root, path or ".", must_exist=True)
    paths.require_file_or_folder(base, path or ".")
    rel = paths.workspace_relative(root, base)
    rg = paths.find_rg()
    hits = _rg_search(rg, root, pattern, rel, glob) if rg else _py_search(root, pattern, rel, glob)
    where = f" under {rel}" if rel != "." else ""
    if not hits:
        also = f" in files matching {glob!r}" if glob else ""
        return f"No matches for /{pattern}/{where}{also}."
    shown = hits[:MAX_MATCHES]
    if len(hits) > MAX_MATCHES:
        shown.append(
            f"[showing the first {MAX_MATCHES} matches; narrow it with path=, glob= "
            "or a more specific pattern]"
        )
    return "\n".join(shown)


def _rg_search(rg: str, root: Path, pattern: str, rel: str, glob: str | None) -> list[str]:
    argv = [
        rg, "--line-number", "--with-filename", "--no-heading", "--color=never",
        "--hidden", "--no-require-git", "--glob", "!.git", "--sort=path",
        f"--max-columns={MAX_COLUMNS}", "--max-columns-preview", f"--max-count={MAX_PER_FILE}",
    ]  # fmt: skip
    if glob:
        argv += ["--glob", glob]
    argv += ["--regexp", pattern, "--", rel]
    proc = run_bounded(argv, root, limit=MAX_OUTPUT_BYTES, timeout=60)
    if proc.timed_out:
        raise ToolError("search took longer than 60 s; narrow it with path= or glob=.")
    err = proc.stderr.decode("utf-8", "replace")
    if proc.returncode == 2 and "regex" in err.lower():
        reasons = [line.removeprefix("error:").strip() for line in err.splitlines() if "error:" in line]
        detail = "; ".join(r for r in reasons if r and "regex parse error" not in r) or err.strip()
        raise ToolError(
            f"invalid regular expression {pattern!r}: {detail}. Escape literal ( [ {{ . * + ? with \\."
        )
    out = proc.stdout.decode("utf-8", "replace").splitlines()
    if proc.truncated:
        out = out[:-1]  # the last line may be cut mid-way
    hits = [line.removeprefix("./") for line in out if _looks_like_hit(line)][: MAX_MATCHES + 1]
    if proc.truncated and len(hits) <= MAX_MATCHES:
        hits.append("[output cut: too much text; narrow it with path=, glob= or a more specific pattern]")
    return hits


def _looks_like_hit(line: str) -> bool:
    """ripgrep also prints notes such as 'binary file matches'; keep only file:line:text."""
    return re.match(r"^[^:\n]+:\d+:", line) is not None


def _py_search(root: Path, pattern: str, rel: str, glob: str | None) -> list[str]:
    try:
        regex = re.compile(pattern)
    except re.error as err:
        raise ToolError(f"invalid regular expression {pattern!r}: {err}.") from None
    hits: list[str] = []
    for name in files.workspace_files(root, None if rel == "." else rel, glob):
        full = os.path.join(root, name)
        if os.path.islink(full) or not os.path.isfile(full) or os.path.getsize(full) > MAX_SCAN_BYTES:
            continue  # like ripgrep: no symlinks, nothing huge
        hits += _scan(root, name, regex)
        if len(hits) > MAX_MATCHES:
            break
    return hits[: MAX_MATCHES + 1]


def _scan(root: Path, name: str, regex: re.Pattern[str]) -> list[str]:
    try:
        data = paths.read_capped(root, name, MAX_SCAN_BYTES)
    except ToolError:
        return []
    if b"\x00" in data[:8192]:
        return []  # binary
    found = []
    for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        if regex.search(line):
            cut = line if len(line) <= MAX_COLUMNS else f"{line[:MAX_COLUMNS]} [... line cut]"
            found.append(f"{name}:{number}:{cut}")
            if len(found) >= MAX_PER_FILE:
                break
    return found
