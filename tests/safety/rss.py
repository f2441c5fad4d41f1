"""Run the `qcode` command in this process and write its own peak RSS (KiB, children excluded) to
a file at exit: `python -m tests.safety.rss OUT fix ...`. The memory attacks assert on it."""

from __future__ import annotations

import atexit
import resource
import sys
from pathlib import Path


def _record(out: Path) -> None:
    out.write_text(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))


if __name__ == "__main__":
    target = Path(sys.argv[1])
    atexit.register(_record, target)
    sys.argv = ["qcode", *sys.argv[2:]]
    from qcode.cli import main

    main()
