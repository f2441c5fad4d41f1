"""Checkpoints: snapshots of the workspace (untracked files included) under private refs.

Each snapshot is a commit in the session's host-only git dir, under
`refs/qcode/checkpoints/<n>` — never a commit on the result branch, never visible to the sandbox.
Restoring one puts the workspace back exactly (tracked and untracked, non-ignored files), which
also undoes what shell commands did to the workspace.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel
from qcode.agent.exceptions import UserError
from qcode.agent.workspace import Workspace
from qcode.sandbox.quota import disk_usage

__all__ = ["CLOSED_LABEL", "Checkpoint", "Checkpoints", "describe"]

REF_PREFIX = "refs/qcode/checkpoints/"
CLOSED_LABEL = "session closed"
"""The label of the checkpoint a session takes of its last state when it closes."""
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


class Checkpoint(BaseModel):
    number: int
    step: int
    """The loop step the snapshot was taken before."""
    commit: str
    label: str


def describe(target: Checkpoint | None) -> str:
    """Where an undo left the workspace, in words."""
    return f"checkpoint {target.number} (before step {target.step})" if target else "the starting commit"


class Checkpoints:
    def __init__(self, workspace: Workspace, budget: int | None = None) -> None:
        self.workspace = workspace
        self.budget = budget
        """Bytes the host-only git dir's own objects may hold; past it the oldest checkpoints go."""

    def snapshot(self, step: int, label: str) -> Checkpoint | None:
        """Record the workspace as it is now; None when it equals the latest checkpoint, or when
        the workspace folder is gone or holds nothing at all.

        An empty folder is an unmounted loop mount point or a removed copy, not a state of the
        work: restoring it would delete every file. (A model that deletes every file leaves the
        clone's `.git`, and that state is recorded.)"""
        if not self.workspace.holds_anything():
            return None
        latest = self.latest()
        tree = self.workspace.stage_all()
        if latest is not None and self.workspace.tree_of(latest.commit) == tree:
            return None
        number = (latest.number + 1) if latest else 1
        commit = self.workspace.commit_tree(
            tree,
            f"checkpoint {number} before step {step}: {label}",
            # The base, not the previous checkpoint: a dropped checkpoint's blobs become unreachable.
            parents=[self.workspace.repo.head],
        )
        self.workspace.git(["update-ref", f"{REF_PREFIX}{number:06d}", commit])
        self._keep_in_budget()
        return Checkpoint(number=number, step=step, commit=commit, label=label)

    def _keep_in_budget(self) -> None:
        """[issue 13] Drop the oldest checkpoints (never the newest) and prune their objects while
        host.git's own objects are over the budget, so rewrites of a big file cannot fill the disk."""
        objects = self.workspace.host_git / "objects"
        if self.budget is None or disk_usage(objects) <= self.budget:
            return
        every = self.all()
        while len(every) > 1 and disk_usage(objects) > self.budget:
            oldest = every.pop(0)
            self.workspace.git(["update-ref", "-d", f"{REF_PREFIX}{oldest.number:06d}"])
            self.workspace.git(["prune", "--expire=now"])
            self._dropped_file.write_text(str(oldest.number))

    @property
    def _dropped_file(self) -> Path:
        return self.workspace.host_git / "qcode-dropped-through"

    def dropped_through(self) -> int:
        """The number of the newest checkpoint dropped for the budget (0: none)."""
        try:
            return int(self._dropped_file.read_text())
        except (OSError, ValueError):
            return 0

    def all(self) -> list[Checkpoint]:
        lines = self.workspace.git(
            [
                "for-each-ref",
                "--sort=refname",
                "--format=%(refname) %(objectname) %(contents:subject)",
                REF_PREFIX,
            ]
        ).splitlines()
        found = []
        for line in lines:
            ref, commit, subject = line.split(" ", 2)
            # subject: "checkpoint N before step S: label"
            head, _, label = subject.partition(": ")
            step = int(head.rsplit(" ", 1)[-1]) if head.rsplit(" ", 1)[-1].isdigit() else 0
            found.append(
                Checkpoint(number=int(ref.removeprefix(REF_PREFIX)), step=step, commit=commit, label=label)
            )
        return found

    def latest(self) -> Checkpoint | None:
        every = self.all()
        return every[-1] if every else None

    def rewind(self, steps: int, step_now: int) -> tuple[Checkpoint | None, str]:
        """Undo the last `steps` changes: snapshot the present (so the undo can itself be undone),
        then restore the checkpoint `steps` changes back, or the base commit when there are fewer."""
        if steps < 1:
            raise ValueError("steps must be at least 1")
        self.snapshot(step_now, "before undo")
        every = self.all()
        if len(every) > steps:
            target = every[-1 - steps]
            return target, self.restore(target)
        if self.dropped_through():
            raise UserError(
                f"cannot undo {steps} change(s): only the last {len(every) - 1} are kept; older "
                "checkpoints were dropped to keep the session under its disk budget (checkpoint_bytes)"
            )
        return None, self._restore_commit(self.workspace.repo.head)

    def restore_latest(self) -> Checkpoint | None:
        """Bring a freshly created workspace to the newest checkpoint (resume, `qcode undo`).

        Older qcode versions closed a session twice and recorded the unmounted, empty mount point
        as a last "session closed" checkpoint; such a checkpoint is passed over, not restored."""
        every = self.all()
        while (
            every
            and every[-1].label == CLOSED_LABEL
            and self.workspace.tree_of(every[-1].commit) == EMPTY_TREE
        ):
            every.pop()
        latest = every[-1] if every else None
        if latest is not None:
            self.restore(latest)
        return latest

    def restore(self, checkpoint: Checkpoint) -> str:
        """Put the workspace back to `checkpoint`; returns a diffstat of what the restore changed."""
        return self._restore_commit(checkpoint.commit)

    def _restore_commit(self, commit: str) -> str:
        before = self.workspace.stage_all()
        self.workspace.restore_tree(commit)
        return self.workspace.git(["diff", "--stat", "--no-ext-diff", before, self.workspace.tree_of(commit)])
