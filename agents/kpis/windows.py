"""Microsecond timestamps -> tumbling window starts (hour, day, month in UTC; "total" is one bucket)."""

from __future__ import annotations

from functools import lru_cache

from agents.customers.codec import from_us, to_us

GRANULARITIES = ("hour", "day", "month", "total")
HOUR, DAY = 3_600_000_000, 86_400_000_000


def bucket(granularity: str, ts: int) -> int:
    if granularity == "hour":
        return ts - ts % HOUR
    if granularity == "day":
        return ts - ts % DAY
    if granularity == "month":
        d = from_us(ts)
        return to_us(d.replace(day=1, hour=0, minute=0, second=0, microsecond=0))
    return 0


def buckets(ts: int) -> tuple[tuple[str, int], ...]:
    """(granularity, bucket start) of `ts` for every granularity, in GRANULARITIES' order: a KPI fold
    asks this for every order it moves and for each of the customer's other orders."""
    day = ts - ts % DAY
    return (("hour", ts - ts % HOUR), ("day", day), ("month", _month_of_day(day)), ("total", 0))


@lru_cache(maxsize=1 << 12)
def _month_of_day(day_start: int) -> int:
    return bucket("month", day_start)


@lru_cache(maxsize=1 << 16)
def previous(granularity: str, start: int) -> int | None:
    if granularity == "hour":
        return start - HOUR
    if granularity == "day":
        return start - DAY
    if granularity == "month":
        d = from_us(start)
        return to_us(d.replace(year=d.year - 1, month=12) if d.month == 1 else d.replace(month=d.month - 1))
    return None


@lru_cache(maxsize=1 << 16)
def following(granularity: str, start: int) -> int | None:
    if granularity == "hour":
        return start + HOUR
    if granularity == "day":
        return start + DAY
    if granularity == "month":
        d = from_us(start)
        return to_us(d.replace(year=d.year + 1, month=1) if d.month == 12 else d.replace(month=d.month + 1))
    return None
