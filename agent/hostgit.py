"""Host-side git, run safely: the bottom layer every other part uses for git on the host.

Host-side git always runs with hooks, fsmonitor, pagers and external diff tools disabled
(invariant 2), through environment config that also reaches git's own child processes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import git as gitpython
from git.exc import GitCommandError
from qcode.agent.exceptions import GitError

__all__ = ["neutral_filters", "run_git", "safe_env"]

_SAFE_CONFIG = {
    "core.hooksPath": "/dev/null",
    "core.fsmonitor": "false",
    "core.untrackedCache": "false",
    "core.pager": "cat",
    "core.editor": "true",
    "core.sshCommand": "false",
    "diff.external": "",
    "gc.auto": "0",
    "maintenance.auto": "false",
    "safe.directory": "*",
    "protocol.allow": "never",
    "protocol.file.allow": "always",
    # [issue 13] keys the user's own .git/config (or a file it includes) may set, each a program git
    # would run while publishing: alternates' ref listing, submodule fetches with their own remote's
    # upload-pack, transports that run commands (ext::), credential helpers, signing.
    "core.alternateRefsCommand": "true",
    "core.alternateRefsPrefixes": "",
    "core.askPass": "",
    "core.gitProxy": "",
    "credential.helper": "",
    "fetch.recurseSubmodules": "false",
    "submodule.recurse": "false",
    "push.recurseSubmodules": "no",
    "protocol.ext.allow": "never",
    "protocol.ssh.allow": "never",
    "protocol.git.allow": "never",
    "protocol.http.allow": "never",
    "protocol.https.allow": "never",
    "commit.gpgSign": "false",
    "tag.gpgSign": "false",
    "gpg.program": "false",
    "sequence.editor": "true",
}
"""Overrides applied to every host-side git call (GIT_CONFIG_* beats any repository config file,
includes and includeIf included: command-line config is read last). git has no allow-list mode, so
this list enumerates every key that names a program on the paths qcode takes; see SECURITY.md."""


def safe_env(extra: dict[str, str], config: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_TERMINAL_PROMPT="0", GIT_PAGER="cat", GIT_CONFIG_NOSYSTEM="1", LC_ALL="C")
    # Beats every protocol.*.allow in any config file: only local paths are ever transports here.
    env.update(GIT_ALLOW_PROTOCOL="file", GIT_NO_REPLACE_OBJECTS="1")
    settings = {**_SAFE_CONFIG, **(config or {})}
    env["GIT_CONFIG_COUNT"] = str(len(settings))
    for index, (key, value) in enumerate(settings.items()):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    env.update(extra)
    return env


def run_git(
    args: Sequence[str], cwd: Path, env: dict[str, str] | None = None, filters: dict[str, str] | None = None
) -> str:
    """Run one host-side git command safely; failures raise GitError with git's own message.
    `filters`: the pass-through overrides when the caller already knows them (else read now)."""
    overrides = neutral_filters(cwd, env) if filters is None else filters
    return _execute(args, cwd, safe_env({**(env or {})}, overrides))


def neutral_filters(cwd: Path, env: dict[str, str] | None) -> dict[str, str]:
    """Clean/smudge filters configured for this repository would run on the host when git reads
    the work tree; replace every configured driver with a pass-through."""
    try:
        names = _execute(["config", "--name-only", "--get-regexp", r"^filter\."], cwd, safe_env(env or {}))
    except GitError:  # exit 1: no filter configured
        return {}
    drivers = {name.rsplit(".", 1)[0] for name in names.split()}
    overrides: dict[str, str] = {}
    for driver in drivers:
        overrides.update(
            {
                f"{driver}.clean": "cat",
                f"{driver}.smudge": "cat",
                f"{driver}.process": "",
                f"{driver}.required": "false",
            }
        )
    return overrides


def _execute(args: Sequence[str], cwd: Path, env: dict[str, str]) -> str:
    runner = gitpython.Git(str(cwd))
    try:
        out = runner.execute(
            ["git", *args], env=env, with_extended_output=False, strip_newline_in_stdout=False
        )
    except GitCommandError as err:
        detail = (err.stderr or err.stdout or str(err)).strip().replace("\n", " ")
        raise GitError(f"git {' '.join(args[:2])} failed in {cwd}: {detail}") from None
    return str(out)
