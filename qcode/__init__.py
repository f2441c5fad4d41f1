"""qcode: a local agentic coding assistant.

`qcode.fix(...)`, `qcode.fix_attempts(...)` and `qcode.iter_fix(...)` run a fix from Python (see
qcode.api); they load on first use, so `import qcode.agent...` and `qcode --help` stay free of
the front doors.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["RunResult", "UserError", "fix", "fix_attempts", "iter_fix"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from qcode import api

        return getattr(api, name)
    raise AttributeError(f"module 'qcode' has no attribute {name!r}")
