"""Run the `qcode` command in this process and write its own peak RSS (KiB, children excluded) to
a file at exit: `python -m tests.safety.rss OUT fix ...`. The memory attacks assert on it."""

from __future__ import annotations

import atexit
import sys
from pathlib import Path


def _record(out: Path) -> None:
    # VmHWM is this process image's own peak. ru_maxrss is not: Linux carries it over from the
    # parent across fork and exec, so under a pytest that has loaded vLLM it reads the parent's RSS.
    with open("/proc/self/status", encoding="ascii") as status:
        peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    out.write_text(peak)


if __name__ == "__main__":
    target = Path(sys.argv[1])
    atexit.register(_record, target)
    sys.argv = ["qcode", *sys.argv[2:]]
    from qcode.cli import main

    main()
