"""Counts per subject and time bucket -> a rise against the subject's own trailing baseline, or nothing.

Two tests share the counting: `rate` (complaints per bucket, two Poisson rates compared) and `share`
(negative feedback among all feedback, binomial against the baseline's share). A window is the
`window_buckets` buckets ending with the one an observation falls in; it is tested as observations
arrive, against what a *full* window would hold at the baseline rate, so a partial window never looks
busier than it is. A signal needs all three bars at once: `min_count` (small counts never fire),
`min_ratio` (a significant but small rise is not worth a page) and `max_p_value` (many subjects are
tested many times: the bar is far below the usual 0.05). A baseline must be fully observed: nothing
fires before `baseline_buckets` of history, counted from the first observation (or the last reset).
A subject that fires stays quiet while the rise goes on (`quiet_buckets` without it end the episode).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone

from agents.signals.config import RateTest
from agents.signals.stats import binomial_sf, poisson_rates_p

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True, slots=True)
class Rise:
    """A window whose count passed every bar: the evidence an incident carries."""

    subject: str
    window_start: datetime
    evidence: dict


class Buckets:
    """bucket index -> subject -> [hits, trials], for the retained buckets only."""

    def __init__(self, bucket_minutes: int, test: RateTest) -> None:
        self.minutes, self.test = bucket_minutes, test
        self.keep = test.window_buckets + test.baseline_buckets
        self.counts: dict[int, dict[str, list[int]]] = {}
        self.first: int | None = None     # the first bucket observed: history starts there
        self.latest: int | None = None
        self.hot: dict[str, int] = {}     # subject -> last bucket its window passed the bars

    def index(self, at: datetime) -> int:
        return int((at - EPOCH).total_seconds() // 60) // self.minutes

    def start(self, b: int) -> datetime:
        from datetime import timedelta

        return EPOCH + timedelta(minutes=b * self.minutes)

    def reset(self) -> None:
        self.counts.clear()
        self.hot.clear()
        self.first = self.latest = None

    def add(self, subjects, at: datetime, hit: bool) -> int | None:
        """Count one observation for each subject; its bucket, or None when it is older than the history."""
        b = self.index(at)
        if self.latest is not None and b <= self.latest - self.keep:
            return None
        if self.first is None:
            self.first = b
        if self.latest is None or b > self.latest:
            self.latest = b
            for old in [x for x in self.counts if x <= b - self.keep]:
                del self.counts[old]
            for s in [s for s, h in self.hot.items() if h <= b - self.keep]:
                del self.hot[s]
        cell = self.counts.setdefault(b, {})
        for s in subjects:
            c = cell.get(s)
            if c is None:
                c = cell[s] = [0, 0]
            c[0] += hit
            c[1] += 1
        return b

    def sums(self, subject: str, lo: int, hi: int) -> tuple[int, int]:
        """(hits, trials) of `subject` over buckets lo..hi."""
        h = n = 0
        for b in range(lo, hi + 1):
            c = self.counts.get(b, {}).get(subject)
            if c is not None:
                h += c[0]
                n += c[1]
        return h, n

    def windows(self, b: int) -> tuple[int, int, int] | None:
        """(window start, baseline start, baseline end) for bucket b, or None while the baseline is not
        fully observed (its first bucket must come after the first, maybe partial, bucket seen)."""
        t = self.test
        w0 = b - t.window_buckets + 1
        b0 = w0 - t.baseline_buckets
        if self.first is None or b0 <= self.first:
            return None
        return w0, b0, w0 - 1

    def episode(self, subject: str, b: int) -> bool:
        """True when this is a new episode for `subject` (and remember it as hot)."""
        last = self.hot.get(subject)
        self.hot[subject] = b if last is None else max(last, b)
        return last is None or b - last > self.test.quiet_buckets


def rate_rise(counts: Buckets, subject: str, b: int) -> Rise | None:
    """The subject's hits in the window against its baseline rate (two Poisson counts)."""
    t = counts.test
    spans = counts.windows(b)
    if spans is None:
        return None
    w0, b0, b1 = spans
    k, _ = counts.sums(subject, w0, b)
    if k < t.min_count:
        return None
    base, _ = counts.sums(subject, b0, b1)
    expected = base * t.window_buckets / t.baseline_buckets
    # a baseline without any counts as one, so the ratio stays finite (and modest) for new subjects
    ratio = k / (max(base, 1) * t.window_buckets / t.baseline_buckets)
    if ratio < t.min_ratio:
        return None
    p = poisson_rates_p(k, base, t.window_buckets / (t.window_buckets + t.baseline_buckets))
    if p > t.max_p_value or not counts.episode(subject, b):
        return None
    return Rise(subject, counts.start(w0), {
        "count": k, "baseline_count": base, "expected": round(expected, 3), "ratio": round(ratio, 3),
        "p_value": float(f"{p:.3g}"), "window_minutes": t.window_buckets * counts.minutes,
        "baseline_minutes": t.baseline_buckets * counts.minutes})


def share_rise(counts: Buckets, subject: str, b: int) -> Rise | None:
    """The subject's share of hits among trials in the window against the baseline's share (binomial)."""
    t = counts.test
    spans = counts.windows(b)
    if spans is None:
        return None
    w0, b0, b1 = spans
    k, n = counts.sums(subject, w0, b)
    if k < t.min_count:
        return None
    base_k, base_n = counts.sums(subject, b0, b1)
    if base_n == 0:
        return None
    base_share = max(base_k, 1) / base_n    # a baseline without any hits counts one, as for rates
    ratio = (k / n) / base_share
    if ratio < t.min_ratio:
        return None
    p = binomial_sf(k, n, base_share)
    if p > t.max_p_value or not counts.episode(subject, b):
        return None
    return Rise(subject, counts.start(w0), {
        "count": k, "total": n, "share": round(k / n, 4), "baseline_count": base_k, "baseline_total": base_n,
        "baseline_share": round(base_k / base_n, 4), "ratio": round(ratio, 3), "p_value": float(f"{p:.3g}"),
        "window_minutes": t.window_buckets * counts.minutes, "baseline_minutes": t.baseline_buckets * counts.minutes})


def dominant(values: dict[str, int]) -> str | None:
    """The most frequent value, ties to the smallest (the same on every worker and in replay)."""
    return min(values, key=lambda v: (-values[v], v)) if values else None


class Regions:
    """(bucket, subject) -> region -> complaints: where a SKU's or category's complaints come from."""

    def __init__(self) -> None:
        self.by: dict[int, dict[str, dict[str, int]]] = defaultdict(dict)

    def add(self, b: int, subjects, region: str | None) -> None:
        if region is None:
            return
        cell = self.by[b]
        for s in subjects:
            d = cell.setdefault(s, {})
            d[region] = d.get(region, 0) + 1

    def of(self, subject: str, lo: int, hi: int) -> str | None:
        total: dict[str, int] = {}
        for b in range(lo, hi + 1):
            for r, n in self.by.get(b, {}).get(subject, {}).items():
                total[r] = total.get(r, 0) + n
        return dominant(total)

    def prune(self, before: int) -> None:
        for b in [b for b in self.by if b < before]:
            del self.by[b]
