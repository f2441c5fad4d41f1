"""The agent's private copy of the repository, and every host-side git operation.

Layout of a session folder:
  workspace/  a clone of the user's repo at HEAD (objects copied, never hardlinked); mounted at
              /workspace so git works inside the sandbox. Its .git is sandbox-writable, so the host
              never runs git with it.
  host.git/   a bare repository only the host sees. Its objects borrow the user's (alternates,
              read-only); its index and config are the host's own. Diffs and the final commit are
              made here with the workspace as work tree, then fetched into the user's repository.

Host-side git runs through qcode.agent.hostgit (hooks, fsmonitor, pagers, external diff tools
disabled: invariant 2). `run_git` is re-exported here for callers not yet moved to hostgit.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import IO

from qcode.agent.bounded import run_bounded
from qcode.agent.exceptions import GitError, UserError
from qcode.agent.hostgit import neutral_filters, run_git, safe_env

__all__ = ["RepoInfo", "Workspace", "inspect_repo", "nested_repositories", "run_git", "slugify"]

DIFF_LIMIT = 2_000_000
"""Bytes of `git diff` output kept for the git_diff tool (the observation cap cuts further)."""
PATCH_LIMIT = 4_000_000_000
"""Bytes of the result patch written to disk, streamed (never held in memory)."""

FALLBACK_IDENTITY = {"GIT_AUTHOR_NAME": "qcode", "GIT_AUTHOR_EMAIL": "qcode@localhost"}


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
            self._host_filters = neutral_filters(self.path.parent, {"GIT_DIR": str(self.host_git)})
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
        env = safe_env(
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
