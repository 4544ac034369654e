"""Phase 3, the whole pipeline: workers scraped until every event is consumed, then written and acked."""

from __future__ import annotations

import time
from collections.abc import Callable

from pipeline.bench.cpu import busy_cores, cpu_seconds, cpu_stat, steal_share
from pipeline.bench.figures import rate, rounded, window_rate
from pipeline.bench.process import log_tail
from pipeline.bench.worker import CONSUMED, PENDING, Worker


def drain(workers: list[Worker], n: int, timeout: float = 900, interval: float = 0.5,
          progress: Callable[[str], None] | None = None, stall_s: float | None = None) -> dict:
    """Scrape every worker until their consumed counters sum to N; the rate is taken from
    the first scrape at which *every* worker has consumed something (after the group settled),
    and so is the workers' CPU per event (robust to other load on a shared machine). `stall_s`:
    N is an estimate; a count that has not moved for that long is taken as everything.
    The call itself is the first sample, at zero: a small backlog can be consumed whole before the
    first scrape answers (3,000 events on a loaded machine), and the rate then runs from the call."""
    samples: list[tuple[float, float]] = [(time.monotonic(), 0.0)]
    deadline = time.monotonic() + timeout
    cpu_start: float | None = None
    cpu_end: float | None = None
    stat_start = stat_end = None
    last_note = 0.0
    last_total, last_change = -1.0, time.monotonic()
    while time.monotonic() < deadline:
        values = [w.metric(CONSUMED) for w in workers]
        now = time.monotonic()
        for w in workers:
            if w.proc.poll() is not None:
                raise RuntimeError(f"worker {w.name} exited {w.proc.returncode}: "
                                   f"{log_tail(w.tmp / f'worker-{w.name}.log')}")
        if None not in values:
            total = sum(values)
            if cpu_start is None and all(v > 0 for v in values):
                cpu_start = sum(cpu_seconds(w.proc.pid, children=True) or 0.0 for w in workers)
                stat_start = cpu_stat()
            samples.append((now, total if cpu_start is not None else 0.0))
            if progress and now - last_note > 5:
                progress(f"  consumed {int(total):,} / {n:,}")
                last_note = now
            if total != last_total:
                last_total, last_change = total, now
            elif stall_s and total and now - last_change > stall_s:
                n = int(total)  # window_rate ends at the first sample that reached it, not now
            if total >= n:
                cpu_end = sum(cpu_seconds(w.proc.pid, children=True) or 0.0 for w in workers)
                stat_end = cpu_stat()
                break
        time.sleep(interval)
    consumed_at = time.monotonic()
    out = window_rate(samples, n) or {"events": 0, "seconds": None, "ev_per_s": None, "timed_out": True}
    if out.get("events") and cpu_start is not None and cpu_end is not None:
        out["cpu_us_per_event"] = rounded((cpu_end - cpu_start) / out["events"] * 1e6)
        out["machine_steal_share"] = steal_share(stat_start, stat_end)
        out["machine_busy_cores"] = busy_cores(stat_start, stat_end)
    # consumed is not done: the writer may still hold rows and acks (up to its back-pressure bound)
    while out.get("seconds") and time.monotonic() < deadline:
        pending = [w.metric(PENDING) for w in workers]
        if None not in pending and not any(pending):
            out["written_after_s"] = rounded(time.monotonic() - consumed_at, 2)
            out["ev_per_s_to_written"] = rate(out["events"], out["seconds"] + out["written_after_s"])
            break
        time.sleep(0.1)
    return out


def settled_profiles(w: Worker, timeout: float = 20, tick: float = 16) -> int | None:
    """Profiles held by the worker (its customers gauge, refreshed by a timer every 15 s). The
    gauge read right after the drain may be from a tick in the middle of it: wait for the next
    tick (a changed value, or `tick` seconds without change)."""
    deadline = time.monotonic() + timeout
    v = None
    while time.monotonic() < deadline:
        v = w.metric("salespulse_table_keys", table="customers")
        if v:
            break
        time.sleep(1)
    if v:
        first, settle = v, time.monotonic() + tick
        while time.monotonic() < settle:
            time.sleep(1)
            v = w.metric("salespulse_table_keys", table="customers") or v
            if v != first:
                break
    return int(v) if v is not None else None
