"""Remove sandbox containers left behind by qcode processes that died (kill -9, power loss).

Each container carries `qcode.owner=<hostname>:<pid>:<start time>`; the start time (from
/proc/<pid>/stat) tells a dead owner from a recycled pid, so live concurrent sessions stay.
"""

from __future__ import annotations

import os
import socket
from typing import Any

import docker.errors

__all__ = ["owner_alive", "owner_label", "process_start_time", "reap_leftovers", "remove_container"]


def process_start_time(pid: int) -> str | None:
    """Field 22 of /proc/<pid>/stat (clock ticks since boot), or None if no such process."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as f:
            stat = f.read()
    except OSError:
        return None
    # the command name may hold spaces and parentheses: count fields after the last ')'
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


def owner_label(pid: int | None = None) -> str:
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}:{process_start_time(pid)}"


def owner_alive(label: str) -> bool:
    """False only when the owner ran on this host and its process is certainly gone."""
    try:
        host, pid_text, started = label.rsplit(":", 2)
        pid = int(pid_text)
    except ValueError:
        return True  # a label we do not understand: leave the container alone
    if host != socket.gethostname():
        return True  # another machine (or container) sharing this daemon
    return process_start_time(pid) == started


def reap_leftovers(client: Any) -> list[str]:
    """Force-remove qcode containers whose owning process is dead; return their ids."""
    removed: list[str] = []
    # sparse: no per-container inspect, which would race other sessions removing their own.
    for container in client.containers.list(all=True, sparse=True, filters={"label": "qcode=1"}):
        label = (container.attrs.get("Labels") or {}).get("qcode.owner", "")
        if owner_alive(label):
            continue
        if remove_container(container):
            removed.append(container.id)
    return removed


def remove_container(container: Any) -> bool:
    """Force-remove; False when it was already gone (another session reaped it, or is doing so)."""
    try:
        container.remove(force=True)
    except docker.errors.NotFound:
        return False
    except docker.errors.APIError as err:
        if "already in progress" not in str(err):
            raise
    return True
