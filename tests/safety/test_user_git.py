"""Issue 13, classes 2 and 3: the user's own `.git` is untrusted, and host git never follows a
repository pointer planted in the workspace.

Each case gives the user's repository one configuration that makes git run a program (a marker
writer) on the paths qcode takes: inspecting the repo, cloning it, publishing the branch into it.
A full `qcode fix` runs; the branch must arrive and no marker may exist.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import committed_repo, git
from tests.safety.helpers import finish, raw_call, run_fix, sh, shell_output
from tests.safety.repos import make_repo

pytestmark = pytest.mark.docker

Setup = Callable[[Path, Path, str], None]
"""(user's repo, a scratch folder, the marker program) → plant the configuration."""


def _alternates(repo: Path, scratch: Path) -> None:
    """The repository borrows objects from another one: git lists that one's refs on fetch."""
    other = committed_repo(scratch / "other", {"o.txt": "other\n"})
    (repo / ".git" / "objects" / "info" / "alternates").write_text(f"{other / '.git' / 'objects'}\n")


def _alternate_refs_command(repo: Path, scratch: Path, evil: str) -> None:
    _alternates(repo, scratch)
    git(repo, "config", "core.alternateRefsCommand", f"{evil} alternateRefsCommand")


def _evil_include(scratch: Path, evil: str) -> Path:
    included = scratch / "included.cfg"
    included.write_text(
        f'[core]\n\talternateRefsCommand = "{evil} included-alternateRefsCommand"\n'
        f'\tfsmonitor = "{evil} included-fsmonitor"\n\thooksPath = {scratch / "hooks"}\n'
        f"[fetch]\n\trecurseSubmodules = yes\n"
    )
    hooks = scratch / "hooks"
    hooks.mkdir(exist_ok=True)
    for name in ("reference-transaction", "post-checkout", "pre-push", "post-index-change"):
        (hooks / name).write_text(f"#!/bin/sh\n{evil} hook-{name}\n")
        (hooks / name).chmod(0o755)
    return included


def _include_path(repo: Path, scratch: Path, evil: str) -> None:
    _alternates(repo, scratch)
    git(repo, "config", "include.path", str(_evil_include(scratch, evil)))


def _include_if(repo: Path, scratch: Path, evil: str) -> None:
    _alternates(repo, scratch)
    git(repo, "config", f"includeIf.gitdir:{repo}/.git.path", str(_evil_include(scratch, evil)))


def _submodule(repo: Path, scratch: Path) -> Path:
    """A populated submodule `sub` in the user's repository; returns its git dir."""
    upstream = committed_repo(scratch / "upstream", {"u.txt": "upstream\n"})
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(upstream), "sub")
    git(repo, "commit", "-q", "-m", "add sub")
    git(repo, "config", "fetch.recurseSubmodules", "yes")
    git(repo, "config", "submodule.recurse", "true")
    return repo / ".git" / "modules" / "sub"


def _submodule_uploadpack(repo: Path, scratch: Path, evil: str) -> None:
    module = _submodule(repo, scratch)
    git(module, "config", "remote.origin.uploadpack", f"{evil} uploadpack")


def _submodule_ext_protocol(repo: Path, scratch: Path, evil: str) -> None:
    module = _submodule(repo, scratch)
    git(module, "config", "remote.origin.url", f"ext::{evil} ext-protocol")
    git(repo, "config", "protocol.ext.allow", "always")
    git(module, "config", "protocol.ext.allow", "always")


def _receivepack(repo: Path, scratch: Path, evil: str) -> None:
    git(repo, "config", "remote.origin.url", str(scratch))
    git(repo, "config", "remote.origin.receivepack", f"{evil} receivepack")
    git(repo, "config", "remote.origin.uploadpack", f"{evil} uploadpack")
    git(repo, "config", "remote.pushDefault", "origin")


CASES: dict[str, Callable[[Path, Path, str], None]] = {
    "core.alternateRefsCommand": _alternate_refs_command,
    "include.path": _include_path,
    "includeIf": _include_if,
    "submodule uploadpack": _submodule_uploadpack,
    "submodule ext:: protocol": _submodule_ext_protocol,
    "remote receivepack/uploadpack": _receivepack,
}


@pytest.mark.attack
@pytest.mark.parametrize("case", list(CASES))
def test_user_git_config_runs_nothing_on_the_host(case: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.sh"
    evil.write_text(f'#!/bin/sh\necho "$1" >> {marker}\nexit 1\n')  # fails fast: never hangs git
    evil.chmod(0o755)
    repo = make_repo(tmp_path / "repo")
    CASES[case](repo, tmp_path, str(evil))
    marker.unlink(missing_ok=True)  # set-up's own git calls may have run it
    turns = [
        raw_call("edit_file", path="calc.py", old_text="return a - b", new_text="return a + b"),
        finish(),
    ]
    run = run_fix(repo, turns, tmp_path / "run")
    assert run.result["status"] == "resolved", run.result
    assert git(repo, "rev-parse", run.result["branch"]).strip() == run.result["commit"]
    assert not marker.exists(), f"ran on the host: {marker.read_text()}"


@pytest.mark.attack
def test_planted_gitdir_pointer_is_never_followed(tmp_path: Path) -> None:
    """`sub/.git` holding `gitdir: <a host repository>`: host git would record that repository's
    HEAD as a gitlink (an oracle for host paths) and show it to the model in git_diff."""
    host_repo = committed_repo(tmp_path / "host-project", {"private.txt": "private\n"})
    host_head = git(host_repo, "rev-parse", "HEAD").strip()
    repo = make_repo(tmp_path / "repo")
    plant = f"mkdir -p sub nested && printf 'gitdir: {host_repo}/.git\\n' > sub/.git && echo x > sub/f.txt"
    plant += " && git init -q nested && cd nested && git -c user.name=a -c user.email=a@b commit -q"
    plant += " --allow-empty -m n && cd .. && echo planted"
    turns = [
        sh(plant),
        raw_call("edit_file", path="calc.py", old_text="return a - b", new_text="return a + b"),
        raw_call("git_diff"),
        finish(),
    ]
    run = run_fix(repo, turns, tmp_path / "run")
    assert shell_output(run.obs(0)).startswith("planted"), run.obs(0)["text"]
    assert run.result["status"] == "resolved", run.result
    assert "+    return a + b" in run.obs(2)["text"]
    assert host_head not in run.trajectory_text
    assert "Subproject commit" not in run.trajectory_text
    tree = git(repo, "ls-tree", "-r", run.result["commit"])
    assert "160000" not in tree and host_head not in tree
    assert host_head not in Path(run.result["patch"]).read_text()
