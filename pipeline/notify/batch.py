"""Batching: the period a notice belongs to, so one person gets at most one notice per period (the claim of a
(person, period) is the caller's, in SQL; pipeline/notify/notice.py sends)."""

from __future__ import annotations

from datetime import datetime


def period_start(now: datetime, minutes: float) -> datetime:
    """The start of the notice period `now` falls in (periods of `minutes` from the epoch, whole seconds)."""
    step = max(1, int(minutes * 60))
    ts = int(now.timestamp())
    return datetime.fromtimestamp(ts - ts % step, tz=now.tzinfo)
