"""`qcode eval`: run a tasks file through qcode and write a graded report."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from qcode.cli import stderr

__all__ = ["command"]


@click.command("eval")
@click.option(
    "--tasks",
    "tasks_file",
    type=click.Path(path_type=Path),
    required=True,
    help="Tasks as JSON or JSONL (SWE-bench fields plus repo_path).",
)
@click.option(
    "--engine",
    default="gold",
    show_default=True,
    help="gold (acts out each task's gold patch: a harness check), vllm, openai or replay:FILE.",
)
@click.option(
    "--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Tasks run at once."
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("eval-out"),
    show_default=True,
    help="Output folder; tasks already finished there are skipped.",
)
@click.option(
    "--faults",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Gold engine: probability per turn of a recoverable fault before the correct call.",
)
@click.option(
    "--repos-dir",
    type=click.Path(path_type=Path),
    help="Folder of owner__name clones for tasks without repo_path (SWE-bench files).",
)
@click.option("--max-steps", type=int, help="Model calls per task, the planner's included.")
@click.option(
    "--attempts",
    type=click.IntRange(1, 16),
    help="Attempts per task, selected by the repository's tests; mix:gold=G,decoy=D sets G + D.",
)
def command(
    tasks_file: Path,
    engine: str,
    workers: int,
    out: Path,
    faults: float,
    repos_dir: Path | None,
    max_steps: int | None,
    attempts: int | None,
) -> None:
    """Resolve every task of TASKS in its own sandbox, grade it with its tests, and report."""
    from qcode.config import load_settings
    from qcode.evals.report import write_report
    from qcode.evals.runner import EvalOptions, run_eval
    from qcode.evals.tasks import load_tasks
    from qcode.runner import check_sandbox

    tasks = load_tasks(tasks_file, repos_dir)
    if faults and engine != "gold":  # (mix:gold=… has no faults either)
        raise click.UsageError("--faults works with --engine gold only")
    settings = load_settings(
        {"engine": None if engine == "gold" or engine.startswith("mix:") else engine, "max_steps": max_steps}
    ).settings
    check_sandbox(settings)
    out = out.absolute()  # sessions run git in other folders: a relative path would move
    out.mkdir(parents=True, exist_ok=True)
    options = EvalOptions(
        engine=engine, workers=workers, faults=faults, out=out, attempts=_attempts(engine, attempts)
    )
    results = run_eval(tasks, settings, options, log=lambda line: stderr.print(line, markup=False))
    summary = write_report(out, results, len(tasks), options)
    if engine == "gold" or engine.startswith("mix:gold"):
        stderr.print(f"[yellow]{summary['label']}[/]")
    if "attempts" in summary:
        a = summary["attempts"]
        stderr.print(
            f"attempts {a['count']}: pass@1 {a['pass_at_1']}/{a['tasks']} · best-of-{a['count']} "
            f"{a['best_of_n']}/{a['tasks']} · chosen {a['chosen_resolved']}/{a['tasks']} · "
            f"selection accuracy {a['selection_accuracy']:.1%}"
        )
    stderr.print(
        f"resolved {summary['resolved']}/{summary['tasks']} ({summary['resolve_rate']:.1%}); "
        f"report: {out / 'report.md'}"
    )
    sys.exit(0 if summary["finished"] == len(tasks) and summary["errors"] == 0 else 1)


def _attempts(engine: str, attempts: int | None) -> int:
    """--attempts, checked against a `mix:` engine's count (which sets it when not given)."""
    from qcode.agent.attempts import mix_specs
    from qcode.evals.decoy import mix_kinds

    try:
        kinds = mix_kinds(engine, "") if engine.startswith("mix:") and "=" in engine else mix_specs(engine)
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    if kinds is None:
        return attempts or 1
    if attempts is not None and attempts != len(kinds):
        raise click.UsageError(f"--attempts {attempts} but --engine {engine} names {len(kinds)} attempts")
    return len(kinds)
