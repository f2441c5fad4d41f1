"""Host-side git for the bot: check the result branch can move, and force-push it to `origin`.

The token authenticates the push as an `http.<origin>.extraHeader`, handed to git through the
environment (git's own `-c` channel, GIT_CONFIG_PARAMETERS) — never on the command line, where
other processes could read it, and never into any file. The header entry for origin is reset
first, so credentials that actions/checkout persisted do not produce a second Authorization
header. Local-path remotes (tests, mirrors) need no token.
"""

from __future__ import annotations

import base64
from pathlib import Path
from urllib.parse import urlsplit

from qcode.agent.exceptions import GitError, UserError
from qcode.agent.hostgit import run_git

__all__ = ["auth_env", "ensure_branch_free", "origin_url", "push_branch"]


def ensure_branch_free(repo: Path, branch: str) -> None:
    """The session moves `branch` in `repo` to its commit; git refuses that for a checked-out branch."""
    worktree = ""
    for line in run_git(["worktree", "list", "--porcelain"], repo).splitlines():
        if line.startswith("worktree "):
            worktree = line.removeprefix("worktree ")
        elif line == f"branch refs/heads/{branch}":
            raise UserError(
                f"{branch} is checked out in {worktree}; qcode bot moves that branch to its new "
                f"commit: switch that worktree to another branch (git -C {worktree} switch -) "
                "and run again"
            )


def origin_url(repo: Path) -> str:
    try:
        return run_git(["remote", "get-url", "origin"], repo).strip()
    except GitError:
        raise UserError(
            f"{repo} has no `origin` remote to push to; run qcode bot in a checkout of the "
            "repository (actions/checkout) or add one with `git remote add origin URL`"
        ) from None


def auth_env(url: str, token: str | None) -> dict[str, str]:
    """Environment that makes git send the token to `url`'s host, or nothing for local remotes."""
    parts = urlsplit(url)
    if parts.scheme in ("", "file") and "@" not in url.split("/", 1)[0]:
        return {}
    if parts.scheme not in ("https", "http"):
        raise UserError(
            f"origin is {_redact(url, token)}, which qcode bot cannot push to with a token; "
            "use the HTTPS remote that actions/checkout sets up (https://HOST/OWNER/REPO)"
        )
    if not token:
        raise UserError("pushing to an HTTPS origin needs a token; set GITHUB_TOKEN or pass --token")
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    key = f"http.{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}/.extraheader"
    entries = [f"{key}=", f"{key}=AUTHORIZATION: basic {basic}", f"protocol.{parts.scheme}.allow=always"]
    return {
        "GIT_CONFIG_PARAMETERS": " ".join(_sq(entry) for entry in entries),
        "GIT_ALLOW_PROTOCOL": f"file:{parts.scheme}",  # run_git allows only file otherwise
    }


def push_branch(repo: Path, branch: str, token: str | None) -> None:
    """Force-push the local `branch` (just published by the session) to origin's `branch`.

    Forced: the branch belongs to the bot, and each run replaces the previous attempt.
    """
    url = origin_url(repo)
    env = auth_env(url, token)
    try:
        ref = f"refs/heads/{branch}"
        push = ["push", "--quiet", "--no-verify", "--force", "--receive-pack=git-receive-pack"]
        run_git([*push, "origin", f"{ref}:{ref}"], repo, env=env)  # not the config's receivepack
    except GitError as err:
        raise GitError(
            f"could not push {branch} to origin ({_redact(url, token)}): {_redact(str(err), token)}"
        ) from None


def _sq(text: str) -> str:
    """Single-quote one entry the way git's own `-c` passing does (`'` becomes `'\\''`)."""
    return "'" + text.replace("'", "'\\''") + "'"


def _redact(text: str, token: str | None) -> str:
    return text.replace(token, "***") if token else text
