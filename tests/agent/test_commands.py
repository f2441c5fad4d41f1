"""Custom commands: loading, front matter, $ARGUMENTS, and what a hostile repository may not do."""

from __future__ import annotations

import os
from pathlib import Path

from qcode.agent.commands import expand_command, list_commands


def _write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)


def test_repo_and_user_commands_expand_with_arguments(tmp_path: Path) -> None:
    repo, user = tmp_path / "repo", tmp_path / "user"
    _write(
        repo / ".qcode" / "commands", "explain.md", "---\ndescription: Explain it\n---\nExplain $ARGUMENTS.\n"
    )
    _write(user, "review.md", "---\nallowed-tools: read_file, search\n---\nReview the code.\n")
    explained = expand_command("/explain the cache layer", repo, user)
    assert explained is not None and explained.prompt == "Explain the cache layer."
    assert explained.command.source == "repo" and explained.command.description == "Explain it"
    assert explained.allowed_tools is None
    reviewed = expand_command("/review src/app.py", repo, user)
    assert reviewed is not None and reviewed.prompt == "Review the code.\n\nArguments: src/app.py"
    assert reviewed.allowed_tools == ["read_file", "search"]
    assert set(list_commands(repo, user)) == {"explain", "review"}


def test_only_known_names_expand(tmp_path: Path) -> None:
    _write(tmp_path / "user", "etc.md", "never\n")
    assert expand_command("/etc/x breaks on startup", tmp_path, tmp_path / "user") is None
    assert expand_command("/unknown thing", tmp_path, tmp_path / "user") is None
    assert expand_command("fix /etc please", tmp_path, tmp_path / "user") is None


def test_the_users_command_wins_over_the_repositorys(tmp_path: Path) -> None:
    _write(tmp_path / ".qcode" / "commands", "test.md", "repo version\n")
    _write(tmp_path / "user", "test.md", "user version\n")
    expanded = expand_command("/test", tmp_path, tmp_path / "user")
    assert expanded is not None and expanded.prompt == "user version"


def test_a_repository_cannot_link_host_files_into_the_prompt(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("host secret")
    commands = tmp_path / "repo" / ".qcode" / "commands"
    commands.mkdir(parents=True)
    (commands / "leak.md").symlink_to(secret)
    os.mkfifo(commands / "hang.md")  # reading a FIFO would block forever
    (commands / "huge.md").write_text("x" * 200_000)
    other = tmp_path / "other"
    _write(other, "viadir.md", "linked folder")
    (tmp_path / "repo2" / ".qcode").mkdir(parents=True)
    (tmp_path / "repo2" / ".qcode" / "commands").symlink_to(other)
    assert list_commands(tmp_path / "repo", None) == {}
    assert list_commands(tmp_path / "repo2", None) == {}
    assert expand_command("/leak", tmp_path / "repo", None) is None


def test_bad_front_matter_is_text_not_a_crash(tmp_path: Path) -> None:
    _write(tmp_path / "user", "odd.md", "---\n: [unclosed\n---\nBody $ARGUMENTS\n")
    expanded = expand_command("/odd  a  b ", None, tmp_path / "user")
    assert expanded is not None and expanded.prompt == "Body a  b" and expanded.command.description == ""


def test_an_alias_bomb_in_front_matter_is_never_expanded(tmp_path: Path) -> None:
    levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    levels += [
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]" for i in range(8)
    ]
    front = "\n".join(levels) + "\ndescription: *i\nallowed-tools: *i\n"  # 9 * 3**8 strings, as text
    folder = tmp_path / "repo" / ".qcode" / "commands"
    folder.mkdir(parents=True)
    (folder / "bomb.md").write_text(f"---\n{front}---\nDo $ARGUMENTS.\n")
    (folder / "long.md").write_text("---\ndescription: " + "x" * 5000 + "\n---\nBody.\n")
    found = list_commands(tmp_path / "repo", None)
    assert found["bomb"].description == "" and found["bomb"].allowed_tools is None
    assert found["long"].description == ""  # front matter past the cap is not parsed
    assert expand_command("/bomb it", tmp_path / "repo", None).prompt == "Do it."  # type: ignore[union-attr]
