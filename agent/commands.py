"""Custom commands: reusable prompts kept as Markdown files, invoked as `/name args`.

Where they live: `.qcode/commands/NAME.md` in the repository (plain text for the model, never
executed, so no trust is needed) and `~/.config/qcode/commands/NAME.md` (the user's; it wins over
a repository command of the same name). A file may open with front matter:

    ---
    description: Explain a failing test
    allowed-tools: read_file, search, shell
    ---
    Find out why $ARGUMENTS fails and fix it.

`$ARGUMENTS` becomes the text after the name (appended when the body does not mention it).
`allowed-tools` only narrows what the model may call; approvals still apply.

API for front doors (CLI: `qcode fix "/name args"`; TUI: the slash handler):

    expanded = expand_command(text, repo, user_commands_dir())
    if expanded is None: ...            # not a known command: keep `text` as it is ("/etc/x breaks")
    else: run(expanded.prompt, allowed_tools=expanded.allowed_tools)
    for command in list_commands(repo, user_commands_dir()).values(): command.name, command.description

Both are pure reads, bounded (file count and size), and never follow symlinks out of a folder.
"""

from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from qcode.tools.paths import read_regular

__all__ = ["Command", "Expanded", "expand_command", "list_commands", "user_commands_dir"]

MAX_FILES = 200
MAX_BYTES = 64 * 1024
MAX_ENTRIES = 2000
"""Folder entries looked at, at most (the first MAX_FILES of them, sorted, are read)."""
MAX_FRONT_MATTER = 4096
"""Characters of front matter parsed, at most (YAML is parsed only for a few short keys)."""
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_FRONT = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.DOTALL)


@dataclass(frozen=True)
class Command:
    name: str
    body: str
    source: Literal["repo", "user"]
    description: str = ""
    allowed_tools: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Expanded:
    command: Command
    arguments: str
    prompt: str
    """The text to send as the task (or follow-up)."""

    @property
    def allowed_tools(self) -> list[str] | None:
        return None if self.command.allowed_tools is None else list(self.command.allowed_tools)


def user_commands_dir() -> Path:
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "qcode" / "commands"


def _read_regular(path: Path) -> str | None:
    """The file's text if it is a regular file (not a link, FIFO or device) of bounded size."""
    data = read_regular(path, MAX_BYTES)
    if data is None or len(data) > MAX_BYTES:
        return None
    return data.decode("utf-8", "replace")


def _tools(value: Any) -> tuple[str, ...] | None:
    """Tool names from a string or a list of strings; anything else (a YAML alias bomb turned into
    nested lists) is ignored rather than turned into text."""
    if isinstance(value, str):
        items = re.split(r"[,\s]+", value)
    elif isinstance(value, list) and all(isinstance(item, str) for item in value):
        items = value
    else:
        return None
    return tuple(item.strip()[:100] for item in items[:64] if item.strip())


def _description(value: Any) -> str:
    return " ".join(value.split())[:200] if isinstance(value, str) else ""


def _parse(name: str, text: str, source: Literal["repo", "user"]) -> Command:
    meta: dict[str, Any] = {}
    match = _FRONT.match(text)
    if match and len(match.group(1)) <= MAX_FRONT_MATTER:
        try:
            loaded = yaml.safe_load(match.group(1))
        except yaml.YAMLError:
            loaded = None
        meta = loaded if isinstance(loaded, dict) else {}
        text = text[match.end() :]
    return Command(
        name=name,
        body=text.strip(),
        source=source,
        description=_description(meta.get("description")),
        allowed_tools=_tools(meta.get("allowed-tools", meta.get("allowed_tools"))),
    )


def _folder(root: Path, source: Literal["repo", "user"]) -> dict[str, Command]:
    if root.is_symlink() or not root.is_dir():
        return {}
    found: dict[str, Command] = {}
    with os.scandir(root) as entries:  # bounded before sorting: a folder of a million files
        names = sorted(entry.name for entry in itertools.islice(entries, MAX_ENTRIES))
    for path in (root / name for name in names[:MAX_FILES]):
        name = path.name.removesuffix(".md")
        if not path.name.endswith(".md") or not NAME.fullmatch(name):
            continue
        text = _read_regular(path)
        if text is not None:
            found[name] = _parse(name, text, source)
    return found


def list_commands(repo: Path | None, user_dir: Path | None) -> dict[str, Command]:
    """Every command by name; the user's win over the repository's of the same name."""
    commands: dict[str, Command] = {}
    if repo is not None and not (repo / ".qcode").is_symlink():
        commands.update(_folder(repo / ".qcode" / "commands", "repo"))
    if user_dir is not None:
        commands.update(_folder(user_dir, "user"))
    return commands


def expand_command(text: str, repo: Path | None, user_dir: Path | None) -> Expanded | None:
    """`/name args` → the command's prompt; None when `text` does not start with a known name."""
    match = re.match(r"/(\S+)(?:\s+(.*))?\Z", text.strip(), re.DOTALL)
    if match is None or not NAME.fullmatch(match.group(1)):
        return None
    command = list_commands(repo, user_dir).get(match.group(1))
    if command is None:
        return None
    arguments = (match.group(2) or "").strip()
    if "$ARGUMENTS" in command.body:
        prompt = command.body.replace("$ARGUMENTS", arguments)
    else:
        prompt = f"{command.body}\n\nArguments: {arguments}" if arguments else command.body
    return Expanded(command=command, arguments=arguments, prompt=prompt)
