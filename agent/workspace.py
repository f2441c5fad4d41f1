"""The agent's private copy of the repository, and every host-side git operation.

Layout of a session folder:
  workspace/  a clone of the user's repo at HEAD (objects copied, never hardlinked); mounted at
              /workspace so git works inside the sandbox. Its .git is sandbox-writable, so the host
              never runs git with it.
  host.git/   a bare repository only the host sees. Its objects borrow the user's (alternates,
              read-only); its index and config are the host's own. Diffs and the final commit are
              made here with the workspace as work tree, then fetched into the user's repository.

Host-side git always runs with hooks, fsmonitor, pagers and external diff tools disabled
(invariant 2), through environment config that also reaches git's own child processes.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import IO

import git as gitpython
from git.exc import GitCommandError
from qcode.agent.bounded import run_bounded
from qcode.agent.exceptions import GitError, UserError

__all__ = ["RepoInfo", "Workspace", "inspect_repo", "nested_repositories", "run_git", "slugify"]

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

DIFF_LIMIT = 2_000_000
"""Bytes of `git diff` output kept for the git_diff tool (the observation cap cuts further)."""
PATCH_LIMIT = 4_000_000_000
"""Bytes of the result patch written to disk, streamed (never held in memory)."""

FALLBACK_IDENTITY = {"GIT_AUTHOR_NAME": "qcode", "GIT_AUTHOR_EMAIL": "qcode@localhost"}


def _safe_env(extra: dict[str, str], config: dict[str, str] | None = None) -> dict[str, str]:
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
    overrides = _neutral_filters(cwd, env) if filters is None else filters
    return _execute(args, cwd, _safe_env({**(env or {})}, overrides))


def _neutral_filters(cwd: Path, env: dict[str, str] | None) -> dict[str, str]:
    """Clean/smudge filters configured for this repository would run on the host when git reads
    the work tree; replace every configured driver with a pass-through."""
    try:
        names = _execute(["config", "--name-only", "--get-regexp", r"^filter\."], cwd, _safe_env(env or {}))
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


class RepoInfo:
    """What qcode needs to know of the user's repository before it starts."""

    def __init__(self, root: Path, head: str, branch: str, dirty: bool) -> None:
        self.root, self.head, self.branch, self.dirty = root, head, branch, dirty


def inspect_repo(path: Path) -> RepoInfo:
    """Validate the user's repository, read-only: git repo, has commits, on a branch."""
    if not path.is_dir():
        raise UserError(f"{path} is not a folder; pass --repo PATH to a git repository")
    try:
        root = Path(run_git(["rev-parse", "--show-toplevel"], path).strip())
    except GitError:
        raise UserError(
            f"{path} is not a git repository; run `git init` and commit, or pass --repo"
        ) from None
    try:
        head = run_git(["rev-parse", "--verify", "-q", "HEAD^{commit}"], root).strip()
    except GitError:
        raise UserError(f"{root} has no commits yet; make a first commit, then run qcode again") from None
    try:
        branch = run_git(["symbolic-ref", "--short", "-q", "HEAD"], root).strip()
    except GitError:
        raise UserError(
            f"{root} is on a detached HEAD; check out a branch first (`git switch -c NAME`)"
        ) from None
    return RepoInfo(root=root, head=head, branch=branch, dirty=_is_dirty(root))


def _is_dirty(root: Path) -> bool:
    """Any staged, modified or untracked file. Plumbing only: `git status` would run the
    repository's clean filters on the host to compare contents; a stat difference is enough here."""
    checks = (
        ["diff-index", "--cached", "--name-only", "HEAD"],
        ["diff-files", "--name-only"],
        ["ls-files", "--others", "--exclude-standard", "--directory", "--no-empty-directory"],
    )
    return any(run_git(args, root).strip() for args in checks)


def slugify(text: str, words: int = 6, limit: int = 40) -> str:
    tokens = re.findall(r"[a-z0-9]+", text.lower())[:words]
    return ("-".join(tokens)[:limit].strip("-")) or "task"


class Workspace:
    """A session's private copy of the user's repository."""

    def __init__(self, session_dir: Path, repo: RepoInfo) -> None:
        self.repo = repo
        self.path = session_dir / "workspace"
        self.host_git = session_dir / "host.git"
        self._index = self.host_git / "qcode-index"
        self.tip: str | None = None
        """The session's latest commit; the next commit goes on top of it."""
        self.guard: Callable[[], AbstractContextManager[None]] = nullcontext
        """Entered around host-side git that reads or writes the work tree; the session sets it to
        the sandbox's pause, closing the window between git's symlink checks and its file access."""
        self._host_filters: dict[str, str] | None = None
        self._has_identity: bool | None = None

    def create(self, branch: str) -> None:
        """Clone HEAD into the workspace and set up the host-only git dir."""
        run_git(
            ["clone", "--quiet", "--no-hardlinks", "--no-checkout", str(self.repo.root), str(self.path)],
            self.path.parent,
        )
        run_git(["checkout", "--quiet", "-b", branch, self.repo.head], self.path)
        run_git(["remote", "remove", "origin"], self.path)  # a host path the sandbox cannot see
        run_git(["init", "--quiet", "--bare", str(self.host_git)], self.path.parent)
        objects = Path(
            run_git(["rev-parse", "--path-format=absolute", "--git-common-dir"], self.repo.root).strip()
        )
        (self.host_git / "objects" / "info" / "alternates").write_text(f"{objects / 'objects'}\n")

    def git(self, args: Sequence[str], env: dict[str, str] | None = None) -> str:
        """git with the host-only git dir, the private index and the workspace as work tree."""
        scoped = {
            "GIT_DIR": str(self.host_git),
            "GIT_WORK_TREE": str(self.path),
            "GIT_INDEX_FILE": str(self._index),
        }
        return run_git(args, self.path, env={**scoped, **(env or {})}, filters=self._filters())

    def _host(self, args: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> str:
        """git on the host-only git dir alone (no work tree)."""
        return run_git(args, cwd, env={"GIT_DIR": str(self.host_git), **(env or {})}, filters=self._filters())

    def _filters(self) -> dict[str, str]:
        """The filter overrides for git on the host-only git dir, read once: its config is written by
        qcode alone (the sandbox cannot reach it), so only the user's global config can name drivers."""
        if self._host_filters is None:
            self._host_filters = _neutral_filters(self.path.parent, {"GIT_DIR": str(self.host_git)})
        return self._host_filters

    def tracked_files(self) -> list[str]:
        """Files of the base commit (read from the host-only git dir, not the workspace's)."""
        return self.git(["ls-tree", "-r", "--name-only", self.repo.head]).splitlines()

    def tree_of(self, commit: str) -> str:
        return self.git(["rev-parse", f"{commit}^{{tree}}"]).strip()

    def commit_tree(self, tree: str, message: str, parents: Sequence[str]) -> str:
        if self._has_identity is None:  # read once: the committer does not change mid-session
            self._has_identity = self._identity_configured()
        identity = (
            {}
            if self._has_identity
            else {
                **FALLBACK_IDENTITY,
                "GIT_COMMITTER_NAME": "qcode",
                "GIT_COMMITTER_EMAIL": "qcode@localhost",
            }
        )
        # commit-tree is plumbing: no hooks, no templates, nothing from the workspace's .git.
        args = ["commit-tree", tree, "-m", message]
        for parent in parents:
            args += ["-p", parent]
        return self._host(args, self.path.parent, env=identity).strip()

    def restore_tree(self, commit: str) -> None:
        """Make the workspace's non-ignored files exactly those of `commit` (ignored files stay)."""
        with self.guard():
            self.stage_all()
            # git checks for symlinked leading paths before every write, so links planted by the
            # sandbox are replaced, not followed.
            self.git(["read-tree", "--reset", "-u", commit])
            self._give_back_to_sandbox()

    def _give_back_to_sandbox(self) -> None:
        """When qcode runs as root the sandbox's uid owns the workspace; restored files must too."""
        owner = self.path.stat()
        if os.getuid() != 0 or (owner.st_uid, owner.st_gid) == (0, 0):
            return
        stack = [str(self.path)]  # iterative: a folder nested thousands deep is no RecursionError
        while stack:
            for entry in os.scandir(stack.pop()):
                os.lchown(entry.path, owner.st_uid, owner.st_gid)
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)

    def stage_all(self) -> str:
        """Index = base commit + everything in the workspace; returns the tree id.

        Folders holding a `.git` (a nested repository, or a planted `gitdir:` pointer to a host
        repository) are left out: host git would read that repository's HEAD to record a gitlink."""
        with self.guard():
            self.git(["read-tree", self.repo.head])
            excluded = [f":(exclude,literal){rel}" for rel in nested_repositories(self.path)]
            self.git(["add", "--all", "--", ".", *excluded])
            return self.git(["write-tree"]).strip()

    def diff(self, path: str | None = None, stat: bool = False) -> str:
        """The work so far against the base commit, new files included; at most DIFF_LIMIT bytes."""
        self.stage_all()
        args = ["diff", "--cached", "--no-ext-diff", "--no-textconv", "--no-color", self.repo.head]
        if stat:
            args.insert(1, "--stat")
        text, cut = self._git_bounded([*args, "--", path] if path else args, DIFF_LIMIT)
        return text + (f"\n[diff cut at {DIFF_LIMIT} bytes; ask for one path with path=]" if cut else "")

    def _git_bounded(
        self, args: Sequence[str], limit: int, sink: IO[bytes] | None = None
    ) -> tuple[str, bool]:
        """Host git with the host-only git dir, keeping `limit` bytes of its output (or streaming
        them to `sink`); (text, cut)."""
        env = _safe_env(
            {
                "GIT_DIR": str(self.host_git),
                "GIT_WORK_TREE": str(self.path),
                "GIT_INDEX_FILE": str(self._index),
            },
            self._filters(),
        )
        done = run_bounded(["git", *args], self.path.parent, limit=limit, timeout=600, env=env, stdout=sink)
        if done.timed_out or (done.returncode != 0 and not done.truncated):
            detail = done.stderr.decode("utf-8", "replace").strip().replace("\n", " ")
            raise GitError(f"git {' '.join(args[:2])} failed: {detail or 'timed out'}")
        return done.stdout.decode("utf-8", "replace"), done.truncated

    def commit(self, message: str) -> str | None:
        """Commit the workspace's state on top of the session's last commit (or the base);
        None when nothing changed since."""
        tree = self.stage_all()
        parent = self.tip or self.repo.head
        if tree == self.tree_of(parent):
            return None
        self.tip = self.commit_tree(tree, message, parents=[parent])
        return self.tip

    def _identity_configured(self) -> bool:
        try:
            self.git(["config", "user.email"])
            return True
        except GitError:
            return False

    def publish(self, commit: str, branch: str) -> None:
        """Point `branch` of the user's repository at `commit`, creating or moving it (their worktree
        is untouched; git refuses to move a branch that is checked out)."""
        self._host(["update-ref", f"refs/heads/{branch}", commit], self.path.parent)
        run_git(
            [
                "fetch",
                "--quiet",
                "--no-tags",
                "--no-write-fetch-head",
                "--no-recurse-submodules",
                "--upload-pack=git-upload-pack",  # not a remote.*.uploadpack from the user's config
                str(self.host_git),
                f"+refs/heads/{branch}:refs/heads/{branch}",
            ],
            self.repo.root,
        )

    def patch(self, commit: str) -> str:
        return self._host(
            ["diff", "--binary", "--no-ext-diff", "--no-textconv", "--no-color", self.repo.head, commit],
            self.path.parent,
        )

    def holds_anything(self) -> bool:
        """Whether the workspace folder exists and has any entry (a clone has at least `.git`)."""
        try:
            with os.scandir(self.path) as entries:
                return next(entries, None) is not None
        except OSError:
            return False

    def write_patch(self, commit: str, target: Path) -> None:
        """The result patch, streamed to `target` (a 400 MB change never sits in qcode's memory)."""
        args = ["diff", "--binary", "--no-ext-diff", "--no-textconv", "--no-color", self.repo.head, commit]
        with open(target, "wb") as sink:
            _, cut = self._git_bounded(args, PATCH_LIMIT, sink)
        if cut:
            raise GitError(f"the patch is larger than {PATCH_LIMIT} bytes; use the branch instead")

    def remove(self) -> None:
        """Delete the workspace copy. The host-only git dir stays: it is small (its objects borrow
        the user's) and holds the checkpoints that `qcode undo` and resuming need."""
        remove_tree(self.path)


def remove_tree(path: Path) -> None:
    """Delete a folder the sandbox filled: `rm` handles any depth (Python 3.11's rmtree recurses
    and raised RecursionError on a folder nested 3,000 deep) and never follows symlinks."""
    if not os.path.lexists(path):
        return
    subprocess.run(
        ["rm", "-rf", "--one-file-system", "--", str(path)], capture_output=True, timeout=600, check=False
    )


def nested_repositories(root: Path) -> list[str]:
    """Workspace-relative folders below the root that hold a `.git` entry (folder, file or link).
    Iterative, so a folder nested thousands deep is no RecursionError; symlinks are not entered."""
    found: list[str] = []
    stack = [""]
    while stack:
        rel = stack.pop()
        try:
            entries = list(os.scandir(root / rel if rel else root))
        except OSError:
            continue
        for entry in entries:
            child = f"{rel}/{entry.name}" if rel else entry.name
            if entry.name == ".git":
                if rel:
                    found.append(rel)
            elif entry.is_dir(follow_symlinks=False):
                stack.append(child)
    return sorted(found)


def unique_branch(repo: Path, base: str) -> str:
    """`base`, or `base-2`, `base-3`… whichever does not exist yet in the user's repository."""
    existing = set(run_git(["for-each-ref", "--format=%(refname:short)", "refs/heads/qcode/"], repo).split())
    name, n = base, 1
    while name in existing:
        n += 1
        name = f"{base}-{n}"
    return name
