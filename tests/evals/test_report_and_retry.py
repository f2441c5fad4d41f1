"""Eval bookkeeping: a transient Docker error is retried; the report shows short errors, leaves
errored tasks out of the per-task plots and labels every axis."""

from __future__ import annotations

from pathlib import Path

import docker.errors
import pytest
from matplotlib.figure import Figure
from qcode.evals import runner
from qcode.evals.report import plotted, short_reason, write_report
from qcode.evals.runner import EvalOptions, TaskResult, is_transient
from qcode.evals.tasks import Task

FREEZE = (
    "500 Server Error for http+docker://localhost/v1.47/containers/abc/pause: Internal Server Error "
    '("Cannot pause container abc: OCI runtime pause failed: unable to freeze: unknown")'
)


def test_the_freezer_error_is_transient_and_others_are_not() -> None:
    assert is_transient(docker.errors.APIError(FREEZE))
    assert is_transient(f"harness: APIError: {FREEZE}")
    assert is_transient(docker.errors.NotFound("No such container: abc"))
    assert not is_transient(docker.errors.APIError("500 Server Error: no space left on device"))
    assert not is_transient(ValueError("unable to freeze"))  # not from Docker


def test_a_transient_docker_error_is_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[int] = []

    def flaky(task, settings, options, shared):  # type: ignore[no-untyped-def]
        attempts.append(1)
        if len(attempts) == 1:
            raise docker.errors.APIError(FREEZE)
        return TaskResult(instance_id=task.instance_id, status="resolved", resolved=True, steps=3)

    monkeypatch.setattr(runner, "run_task", flaky)
    task = Task.model_construct(instance_id="t-1")
    result = runner._run_guarded(task, None, EvalOptions(out=tmp_path), None)  # type: ignore[arg-type]
    assert len(attempts) == 2 and result.status == "resolved" and result.retried


@pytest.mark.slow
def test_the_report_is_short_plots_leave_errors_out_and_axes_are_labelled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = [
        TaskResult(instance_id="ok", status="resolved", resolved=True, steps=7),
        TaskResult(instance_id="bad", status="error", reason=f"harness: APIError: {FREEZE}\nmore", steps=0),
    ]
    assert [r.instance_id for r in plotted(results)] == ["ok"]
    cell = short_reason(results[1].reason)
    assert len(cell) <= 80 and cell.endswith("…") and "\n" not in cell and "|" not in cell

    labels: dict[str, tuple[str, str]] = {}
    save = Figure.savefig

    def record(figure: Figure, path, *args, **kwargs):  # type: ignore[no-untyped-def]
        (ax,) = figure.axes
        labels[Path(path).name] = (ax.get_xlabel(), ax.get_ylabel())
        if Path(path).name == "steps.png":
            labels["steps-count"] = (str(sum(patch.get_height() for patch in ax.patches)), "")
        return save(figure, path, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", record)
    write_report(tmp_path, results, 2, EvalOptions(out=tmp_path))
    table = (tmp_path / "report.md").read_text()
    assert FREEZE not in table and "| bad | error | 0 |" in table
    assert set(labels) == {"resolve_rate.png", "steps.png", "tokens.png", "steps-count"}
    assert all(x and y for name, (x, y) in labels.items() if name.endswith(".png"))
    assert labels["steps-count"][0] == "1.0"  # the errored task's 0 steps are not a bar
