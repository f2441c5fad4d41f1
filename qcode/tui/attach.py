"""`@path` in a message attaches that file's content, read race-safely from the workspace and capped.

A repository is hostile: a path that escapes the workspace (`..`, a symlink pointing out) is refused
by the same reader the file tools use, a binary file is not pasted, and nothing grows past the caps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from qcode.agent.exceptions import ToolError
from qcode.tools.paths import open_in_workspace

__all__ = ["FILE_CAP", "MAX_FILES", "TOTAL_CAP", "Attached", "attach_files"]

FILE_CAP = 32_000
"""Bytes of one file that are attached; the rest is cut with a note saying so."""
TOTAL_CAP = 100_000
"""Bytes attached to one message, all files together."""
MAX_FILES = 10
_MENTION = re.compile(r"(?:^|(?<=\s))@([^\s@]+)")


@dataclass
class Attached:
    message: str
    """The text to send: the person's words, then one <file> block per attached file."""
    files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """One line per mention that was not attached (or was cut), for the person, not the model."""


def attach_files(text: str, root: Path) -> Attached:
    """Attach every `@path` of `text` that names a file under `root` (each file once)."""
    result = Attached(message=text)
    budget = TOTAL_CAP
    blocks: list[str] = []
    for rel in dict.fromkeys(m.group(1).rstrip(".,;:!?)") for m in _MENTION.finditer(text)):
        if len(result.files) == MAX_FILES:
            result.notes.append(f"@{rel}: not attached, at most {MAX_FILES} files a message")
            continue
        try:
            content, cut = _read(root, rel, min(FILE_CAP, budget))
        except ToolError as err:
            if "/" in rel or "." in rel:  # meant as a file; `@property` in pasted code was not
                result.notes.append(f"@{rel}: not attached: {err}")
            continue
        if content is None:
            result.notes.append(f"@{rel}: not attached: a binary file")
            continue
        budget -= len(content.encode("utf-8"))
        tail = f"\n[… cut: only the first {len(content.encode('utf-8'))} bytes are attached]" if cut else ""
        if cut:
            result.notes.append(f"@{rel}: attached its first {len(content.encode('utf-8'))} bytes only")
        blocks.append(f'<file path="{rel}">\n{content}{tail}\n</file>')
        result.files.append(rel)
    if blocks:
        result.message = text + "\n\n" + "\n\n".join(blocks)
    return result


def _read(root: Path, rel: str, cap: int) -> tuple[str | None, bool]:
    """(text or None for binary, whether it was cut) of at most `cap` bytes of `rel`."""
    if cap <= 0:
        raise ToolError(f"the message already carries {TOTAL_CAP} bytes of files")
    with open_in_workspace(root, rel, "rb") as handle:
        data = handle.read(cap + 1)
    if b"\x00" in data[:8192]:
        return None, False
    cut = len(data) > cap
    text = data[:cap].decode("utf-8", errors="replace")
    return (text.rstrip("\ufffd") if cut else text), cut  # a cut may split the last character
