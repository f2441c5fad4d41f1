"""Attempts: N sessions at one task on one engine, and the verified one wins (issue 17)."""

from qcode.agent.attempts._checks import CheckRun, Evidence, detect_test_command, is_test_file
from qcode.agent.attempts._engines import AttemptEngines, can_judge, mix_specs
from qcode.agent.attempts._run import AttemptRecord, AttemptsOptions, AttemptsOutcome, run_attempts
from qcode.agent.attempts._select import Selection, Step, normalise_diff, select

__all__ = [
    "AttemptEngines",
    "AttemptRecord",
    "AttemptsOptions",
    "AttemptsOutcome",
    "CheckRun",
    "Evidence",
    "Selection",
    "Step",
    "can_judge",
    "detect_test_command",
    "is_test_file",
    "mix_specs",
    "normalise_diff",
    "run_attempts",
    "select",
]
