"""The adversarial safety suite: every test marked `attack` is one attack on qcode, run through the
real product (the `qcode` command, a replay engine, real Docker, real git). A passing attack test
means the attack was contained; the tally is printed at the end of any pytest run that collected
this folder: "safety: N attacks tried, M contained"."""

from __future__ import annotations

import pytest

_RESULTS: dict[str, bool] = {}
"""nodeid → contained (every phase of the attack test passed). Module state: one pytest process."""


def pytest_configure(config: pytest.Config) -> None:
    # pytest_configure is a historic hook, so this subfolder conftest gets it even though it is
    # loaded during collection. Unregistered markers are errors here (filterwarnings = error).
    config.addinivalue_line("markers", "attack: one adversarial attack on qcode; passing = contained")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "attack" not in report.keywords:
        return
    if report.skipped and not hasattr(report, "wasxfail"):
        _RESULTS.pop(report.nodeid, None)  # skipped (no Docker, ...): not tried
        return
    if report.when == "teardown" and report.nodeid not in _RESULTS:
        return  # the test was skipped at setup
    _RESULTS[report.nodeid] = _RESULTS.get(report.nodeid, True) and report.passed


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _RESULTS:
        return
    contained = sum(_RESULTS.values())
    for nodeid, ok in sorted(_RESULTS.items()):
        if not ok:
            terminalreporter.write_line(f"NOT CONTAINED: {nodeid}")
    terminalreporter.write_sep("=", f"safety: {len(_RESULTS)} attacks tried, {contained} contained")
