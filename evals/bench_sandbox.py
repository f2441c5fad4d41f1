"""Sandbox latency: container start → first command, and a command's round trip through the
persistent shell against a fresh `docker exec` per command (the SDK's `exec_run`).

    python -m qcode.evals.bench_sandbox [--starts 5] [--round-trips 200] [--execs 30]

Prints a table; no pass/fail. Targets: start ≤ 0.5 s, persistent shell ≥ 50× faster than exec.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from qcode.sandbox.container import DockerSandbox, SandboxSettings, docker_client, require_image


def timed(action: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        action()
        samples.append(time.perf_counter() - began)
    return samples


def bench_start(settings: SandboxSettings, workspace: Path, starts: int) -> tuple[list[float], list[float]]:
    """Seconds from start() to the first command's result, and for close()."""
    client = docker_client()
    start_times, close_times = [], []
    for i in range(starts):
        box = DockerSandbox(workspace, settings, f"bench-{i}", client=client)
        began = time.perf_counter()
        box.start()
        box.exec("true")
        start_times.append(time.perf_counter() - began)
        close_times.append(timed(box.close, 1)[0])
    client.close()
    return start_times, close_times


def bench_round_trip(
    settings: SandboxSettings, workspace: Path, round_trips: int, execs: int
) -> tuple[list[float], list[float]]:
    """Seconds per `true`: through the persistent shell, and through a new exec each time."""
    client = docker_client()
    with DockerSandbox(workspace, settings, "bench-rt", client=client) as box:
        box.exec("true")  # warm up both paths before measuring
        container = client.containers.get(box.container_id)
        user = f"{box.uid}:{box.gid}"
        container.exec_run(["true"], user=user)
        shell = timed(lambda: box.exec("true"), round_trips)
        fresh = timed(lambda: container.exec_run(["true"], user=user), execs)
    client.close()
    return shell, fresh


def ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:9.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default=os.environ.get("QCODE_SANDBOX_IMAGE", "qcode-sandbox:latest"))
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--round-trips", type=int, default=200)
    parser.add_argument("--execs", type=int, default=30)
    args = parser.parse_args()
    settings = SandboxSettings(image=args.image)
    client = docker_client()
    require_image(client, args.image)
    client.close()
    with tempfile.TemporaryDirectory(prefix="qcode-bench-") as tmp:
        workspace = Path(tmp)
        starts, closes = bench_start(settings, workspace, args.starts)
        shell, fresh = bench_round_trip(settings, workspace, args.round_trips, args.execs)
    ratio = statistics.median(fresh) / statistics.median(shell)
    rows = [
        (f"start → first command (median of {len(starts)})", ms(starts), "target ≤ 500 ms"),
        (f"close (median of {len(closes)})", ms(closes), ""),
        (f"`true` via persistent shell (median of {len(shell)})", ms(shell), ""),
        (f"`true` via new exec_run (median of {len(fresh)})", ms(fresh), ""),
        ("exec_run / persistent shell", f"{ratio:9.1f} ×", "target ≥ 50×"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"sandbox benchmark, image {args.image}, {os.cpu_count()} CPUs")
    for name, value, note in rows:
        print(f"  {name:<{width}}  {value}  {note}")


if __name__ == "__main__":
    main()
