"""Parse files in worker processes, so a crash or a hang in a grammar cannot take qcode down.

tree-sitter holds the GIL, so threads would not parallelize; and a C grammar that segfaults on
some input would kill the planner with it. Workers are plain `python -m` subprocesses fed
marshal data on stdin (no multiprocessing: it would re-import the caller's __main__ or fork
its threads). A worker that dies has its batch split in half and retried, down to the one
file that kills it, which is then skipped with a note; a batch that outlives its time limit
is skipped with a note and not cached, so the next build tries again.
"""

from __future__ import annotations

import marshal
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from qcode.tools.repomap.tags import FileTags, tags_for

__all__ = ["parse_isolated", "CRASHED", "TIMED_OUT"]

Item = tuple[str, bytes, str]
"""(path, content, language)"""

CRASHED = "the parser crashed on this file; skipped"
TIMED_OUT = "parsing timed out; skipped for now"
_SECONDS_PER_MB = 20.0
_MIN_SECONDS = 30.0


def parse_isolated(items: Sequence[Item], workers: int) -> dict[str, FileTags]:
    """Tags for each (path, content, language), parsed in up to `workers` subprocesses."""
    shards: list[list[Item]] = [[] for _ in range(max(1, min(workers, len(items))))]
    loads = [0] * len(shards)
    for item in sorted(items, key=lambda it: -len(it[1])):  # biggest first, onto the lightest shard
        lightest = loads.index(min(loads))
        shards[lightest].append(item)
        loads[lightest] += len(item[1]) + 2000
    parsed: dict[str, FileTags] = {}
    with ThreadPoolExecutor(len(shards)) as pool:  # threads only wait on pipes
        for result in pool.map(_run_shard, shards):
            parsed.update(result)
    return parsed


def _run_shard(shard: list[Item]) -> dict[str, FileTags]:
    limit = _MIN_SECONDS + _SECONDS_PER_MB * sum(len(content) for _, content, _ in shard) / 1e6
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "qcode.tools.repomap.worker"],
            input=marshal.dumps(shard),
            capture_output=True,
            timeout=limit,
            check=False,
        )
    except subprocess.TimeoutExpired:  # subprocess.run kills the worker before raising
        return {path: FileTags(note=TIMED_OUT) for path, _, _ in shard}
    if proc.returncode == 0:
        try:
            return {path: FileTags.from_record(record) for path, record in marshal.loads(proc.stdout)}
        except (ValueError, TypeError, EOFError):
            pass
    if len(shard) == 1:
        return {shard[0][0]: FileTags(note=CRASHED)}
    middle = len(shard) // 2
    return {**_run_shard(shard[:middle]), **_run_shard(shard[middle:])}


def _main() -> None:
    items = marshal.loads(sys.stdin.buffer.read())
    results = [(path, tags_for(content, language).to_record()) for path, content, language in items]
    sys.stdout.buffer.write(marshal.dumps(results))


if __name__ == "__main__":
    _main()
