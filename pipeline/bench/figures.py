"""Pure figures of a run: percentiles, rates from scraped samples, ratios, rounding."""

from __future__ import annotations

from collections.abc import Iterable


def percentile(values: Iterable[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100); None for no values."""
    s = sorted(values)
    if not s:
        return None
    rank = max(1, -(-len(s) * p // 100))  # ceil(p/100 * n), at least the first value
    return s[int(min(rank, len(s))) - 1]


def latency_summary(ms: list[float], expected: int | None = None) -> dict:
    """p50 / p99 / max of latencies in milliseconds; `missing` when fewer arrived than sent."""
    out = {"n": len(ms), "p50_ms": rounded(percentile(ms, 50)), "p99_ms": rounded(percentile(ms, 99)),
           "max_ms": rounded(max(ms) if ms else None)}
    if expected is not None:
        out["missing"] = max(0, expected - len(ms))
    return out


def rate(events: float, seconds: float) -> float | None:
    """Events per second, to 0.1; None for no time."""
    return round(events / seconds, 1) if seconds > 0 else None


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b to 3 places; None where either is missing or zero."""
    return round(a / b, 3) if a and b else None


def window_rate(samples: list[tuple[float, float]], target: float) -> dict | None:
    """Throughput from (time, cumulative count) samples: from the first sample with a count
    above zero to the first at or above `target`. None if the target was never reached."""
    first = next((i for i, (_, c) in enumerate(samples) if c > 0), None)
    end = next(((t, c) for t, c in samples if c >= target), None)
    if first is None or end is None:
        return None
    start = samples[first]
    if end[0] <= start[0] and first > 0:  # all consumed between two scrapes: from the last one at zero
        start = samples[first - 1]
    if end[0] <= start[0]:
        return None
    return {"events": int(end[1] - start[1]), "seconds": round(end[0] - start[0], 3),
            "ev_per_s": rate(end[1] - start[1], end[0] - start[0])}


def rounded(x: float | None, nd: int = 1) -> float | None:
    """`x` rounded to `nd` places, None passed through (figures the run could not measure)."""
    return None if x is None else round(x, nd)


def written_rate(phase: dict | None) -> float | None:
    """A drain's rate until every event was written to SQL and acked (what the targets use),
    or until consumed where that was not measured."""
    phase = phase or {}
    return phase.get("ev_per_s_to_written") or phase.get("ev_per_s")


def mib(kb: int | None) -> float | None:
    """KiB (as /proc reports them) -> MiB to 0.1; None passed through."""
    return None if kb is None else round(kb / 1024, 1)
