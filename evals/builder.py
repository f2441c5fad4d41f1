"""Build an offline suite: real packages' sdists, one injected bug per task, graded by their own tests.

    python -m qcode.evals.builder --out evals/suites/offline.jsonl [--seed 0] [--per-package 6] \
        [--package NAME==VERSION ...] [--cache DIR]

For each package: fetch its sdist with pip (inside a throwaway container: an sdist's build
backend runs when pip reads its metadata, and nothing from a package runs on the host), keep
the source, tests and config in a small deterministic tarball, run its tests in the sandbox,
then try AST mutations in a seeded order and keep those its tests catch. Everything a package
runs, runs in the sandbox image.
"""

from __future__ import annotations

import argparse
import difflib
import random
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from qcode.evals.grading import GRADE_OUTPUT_LIMIT, parse_test_report
from qcode.evals.mutations import Mutation, find_mutations
from qcode.evals.packages import PackageTree, fetch_sdist, prepare_tree, write_tarball
from qcode.evals.repos import materialize
from qcode.evals.statements import problem_statement
from qcode.evals.tasks import Task, dump_tasks
from qcode.sandbox.container import DockerSandbox, SandboxSettings

__all__ = ["SUITE_PACKAGES", "build_package_tasks", "build_suite", "unified_diff"]

SUITE_PACKAGES = [
    "cachetools==8.0.1",
    "isodate==0.7.2",
    "toolz==1.2.0",
    "webcolors==25.10.0",
    "pathspec==1.1.1",
    "six==1.17.0",
]
"""The checked-in suite's packages (pinned: the suite is a function of these and the seed)."""

MAX_FAIL_TO_PASS = 25
"""A mutant that breaks more tests than this is not a small slip (an import error, say)."""
SUITE_TIMEOUT = 300.0


def unified_diff(path: str, before: str, after: str) -> str:
    """A git-applicable unified diff of one file."""
    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), f"a/{path}", f"b/{path}"
    )
    return f"diff --git a/{path} b/{path}\n" + "".join(lines)


def _interleave(candidates: list[Mutation], rng: random.Random) -> list[Mutation]:
    """Shuffle, then take kinds in turn so one common kind does not crowd out the others."""
    rng.shuffle(candidates)
    by_kind: dict[str, list[Mutation]] = {}
    for mutation in candidates:
        by_kind.setdefault(mutation.kind, []).append(mutation)
    kinds = sorted(by_kind)
    rng.shuffle(kinds)
    ordered: list[Mutation] = []
    while any(by_kind.values()):
        for kind in kinds:
            if by_kind[kind]:
                ordered.append(by_kind[kind].pop())
    return ordered


def _run_suite(box: DockerSandbox, tree: PackageTree) -> tuple[int | None, str, dict[str, str]]:
    result = box.exec(f"{tree.test_command} -q", timeout=SUITE_TIMEOUT)
    return result.exit_code, result.output, parse_test_report(result.output)


def _safe_id(test: str) -> bool:
    """Selectable on a command line and readable in -rA's `STATUS id` lines."""
    name, _, params = test.partition("[")
    return "::" in name and test.isprintable() and not any(ch.isspace() for ch in test) and "::" not in params


def build_package_tasks(
    tree: PackageTree,
    tarball: str,
    settings: SandboxSettings,
    seed: int,
    wanted: int,
    max_tries: int = 40,
    log: Callable[[str], None] = print,
) -> list[Task]:
    """Up to `wanted` tasks from one prepared package tree (left unchanged)."""
    with tempfile.TemporaryDirectory(prefix="qcode-build-") as scratch:
        work = Path(scratch) / "pkg"
        shutil.copytree(tree.root, work, symlinks=True)
        full_output = settings.model_copy(update={"output_limit": GRADE_OUTPUT_LIMIT})  # every -rA line
        with DockerSandbox(work, full_output, "build") as box:
            _, _, baseline = _run_suite(box, tree)
            passing = {test for test, status in baseline.items() if status == "PASSED"}
            log(f"{tree.name}: {len(passing)} tests pass at baseline")
            sources = {path: (work / path).read_text(encoding="utf-8") for path in tree.modules}
            candidates = [m for path, text in sources.items() for m in find_mutations(path, text)]
            rng = random.Random(f"{seed}:{tree.name}")
            tasks: list[Task] = []
            used: set[tuple[str, str]] = set()
            for mutation in _interleave(candidates, rng)[:max_tries]:
                if len(tasks) >= wanted:
                    break
                if (mutation.path, mutation.function) in used:
                    continue
                task = _try_mutation(box, tree, work, sources, mutation, passing, seed, tarball)
                log(
                    f"  {mutation.key} {mutation.kind} in {mutation.function}: "
                    + ("kept" if task else "not caught / too broad")
                )
                if task is not None:
                    tasks.append(task)
                    used.add((mutation.path, mutation.function))
    return tasks


def _try_mutation(
    box: DockerSandbox,
    tree: PackageTree,
    work: Path,
    sources: dict[str, str],
    mutation: Mutation,
    passing: set[str],
    seed: int,
    tarball: str,
) -> Task | None:
    original = sources[mutation.path]
    mutant = mutation.apply(original)
    (work / mutation.path).write_text(mutant, encoding="utf-8")
    try:
        exit_code, output, statuses = _run_suite(box, tree)
    finally:
        (work / mutation.path).write_text(original, encoding="utf-8")
    failing = sorted(test for test in passing if statuses.get(test) in ("FAILED", "ERROR"))
    if exit_code == 0 or not statuses or not failing or len(failing) > MAX_FAIL_TO_PASS:
        return None
    if not all(_safe_id(test) for test in failing) or any(statuses.get(t) is None for t in passing):
        return None  # ids the grader could not select, or tests that vanished (a collection error)
    files = {test.split("::")[0] for test in failing}
    p2p = sorted(t for t in passing if t.split("::")[0] in files and t not in failing and _safe_id(t))
    instance_id = f"{tree.name}__{tree.module_name(mutation.path)}-{mutation.line}"
    statement = problem_statement(
        tree.module_name(mutation.path), mutation.function, output, failing, seed=f"{seed}:{instance_id}"
    )
    return Task(
        instance_id=instance_id,
        problem_statement=statement,
        FAIL_TO_PASS=failing,
        PASS_TO_PASS=p2p,
        patch=unified_diff(mutation.path, mutant, original),
        repo=tree.name,
        repo_path=tarball,
        setup_patch=unified_diff(mutation.path, original, mutant),
        test_command=tree.test_command,
        mutation={
            "kind": mutation.kind,
            "path": mutation.path,
            "line": mutation.line,
            "function": mutation.function,
            "package": f"{tree.name}=={tree.version}",
        },
    )


def build_suite(
    packages: list[str],
    out: Path,
    seed: int,
    per_package: int,
    cache: Path,
    settings: SandboxSettings,
    log: Callable[[str], None] = print,
) -> list[Task]:
    """Build every package's tasks, write `out` (JSONL) and the tarballs in `out`'s `repos/` folder."""
    repos = out.parent / "repos"
    repos.mkdir(parents=True, exist_ok=True)
    tasks: list[Task] = []
    with tempfile.TemporaryDirectory(prefix="qcode-suite-") as scratch:
        for spec in packages:
            sdist = fetch_sdist(spec, cache, settings.image, log=log)
            tree = prepare_tree(sdist, Path(scratch) / spec.split("==")[0])
            tarball = repos / f"{tree.name}-{tree.version}.tar.gz"
            write_tarball(tree.root, tarball)
            relative = str(tarball.relative_to(out.parent))
            for task in build_package_tasks(tree, relative, settings, seed, per_package, log=log):
                tasks.append(_with_base_commit(task, out.parent, Path(scratch)))
    dump_tasks(tasks, out)
    log(f"wrote {len(tasks)} tasks from {len({t.repo for t in tasks})} packages to {out}")
    return tasks


def _with_base_commit(task: Task, base: Path, scratch: Path) -> Task:
    """Record the deterministic base commit the task's material makes."""
    resolved = task.model_copy(update={"repo_path": str(base / task.repo_path)})
    target = scratch / "base" / task.instance_id
    commit = materialize(resolved, target)
    shutil.rmtree(target, ignore_errors=True)
    return task.model_copy(update={"base_commit": commit})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, required=True, help="Tasks JSONL; tarballs go to its repos/ folder."
    )
    parser.add_argument(
        "--package", action="append", help="NAME==VERSION (repeatable); default: the suite's."
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-package", type=int, default=6)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "qcode-sdists")
    parser.add_argument("--image", default="qcode-sandbox:latest")
    args = parser.parse_args(argv)
    settings = SandboxSettings(image=args.image, default_timeout=SUITE_TIMEOUT)
    tasks = build_suite(
        args.package or SUITE_PACKAGES, args.out, args.seed, args.per_package, args.cache, settings
    )
    return 0 if tasks else 1


if __name__ == "__main__":
    sys.exit(main())
