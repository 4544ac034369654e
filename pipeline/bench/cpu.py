"""CPU and memory readings from /proc: per process (with its helpers) and for the whole machine."""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.bench.figures import rounded


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def cpu_seconds(pid: int, children: bool = False) -> float | None:
    """User + system CPU seconds a live process has used so far (/proc/PID/stat); `children`:
    with its helper processes' (the SQLite writer, the classifier), live or ended."""
    fields = _stat(pid)
    if fields is None:
        return None
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])  # children that ended (and were waited for)
        for child in child_pids(pid):
            f = _stat(child)
            ticks += int(f[11]) + int(f[12]) if f else 0
    return ticks / os.sysconf("SC_CLK_TCK")


def cpu_split(worker_pid: int, broker_pid: int | None) -> dict[str, float | None]:
    """CPU seconds so far of what shares the machine in a phase: the worker's own process, its
    helpers (SQLite writer, classifier), the broker (when we started it) and this harness."""
    own, with_helpers = cpu_seconds(worker_pid), cpu_seconds(worker_pid, children=True)
    return {"worker": own,
            "helpers": with_helpers - own if own is not None and with_helpers is not None else None,
            "broker": cpu_seconds(broker_pid) if broker_pid else None,
            "harness": cpu_seconds(os.getpid())}


def cores_between(before: dict[str, float | None], after: dict[str, float | None], seconds: float) -> dict:
    """Two cpu_split snapshots -> cores each used in between (None where either is unknown)."""
    return {k: round((after[k] - v) / seconds, 3) if v is not None and after.get(k) is not None and seconds > 0
            else None for k, v in before.items()}


def child_pids(pid: int) -> list[int]:
    """The live processes whose parent is `pid`."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            f = _stat(int(entry.name))
            if f is not None and f[1] == str(pid):
                out.append(int(entry.name))
    return out


def vm_hwm_kb(pid: int) -> int | None:
    """Peak resident set size (VmHWM) of a live process, in KiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_stat() -> tuple[int, int, int] | None:
    """(all CPU time, stolen CPU time, idle and I/O-wait time) of the machine so far, in jiffies,
    summed over its CPUs; None off Linux."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return sum(fields[:8]), fields[7] if len(fields) > 7 else 0, fields[3] + fields[4]


def busy_cores(start: tuple[int, int, int] | None, end: tuple[int, int, int] | None,
               cpus: int | None = None) -> float | None:
    """How many of the machine's CPUs were busy (anything but idle and I/O wait, stolen time
    included) between two cpu_stat()s: one worker's drain that keeps ~2 of 2 cores busy leaves
    a second worker nothing to scale with."""
    cpus = cpus or os.cpu_count()
    if start is None or end is None or end[0] <= start[0] or not cpus:
        return None
    return rounded((1 - (end[2] - start[2]) / (end[0] - start[0])) * cpus, 2)


def steal_share(start: tuple[int, ...] | None, end: tuple[int, ...] | None) -> float | None:
    """Share of the machine's CPU time the hypervisor gave to others between two cpu_stat()s: on a
    shared VM the same code measures slower when this is high (compare runs with similar shares)."""
    if start is None or end is None or end[0] <= start[0]:
        return None
    return rounded((end[1] - start[1]) / (end[0] - start[0]), 3)
