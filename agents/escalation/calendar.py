"""Business-hours calendar: (start, working seconds) -> wall-clock deadline; the clock pauses outside hours."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_DAYS = 800  # a deadline further than this many calendar days away is a configuration mistake


class Calendar(BaseModel):
    """Working hours in one time zone, the same window on each working day, minus holidays."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    timezone: str = "UTC"
    days: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")
    start: time = time(9, 0)
    end: time = time(18, 0)
    holidays: frozenset[date] = frozenset()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}") from None
        return v

    @model_validator(mode="after")
    def _sane(self) -> "Calendar":
        if not self.days:
            raise ValueError("a calendar needs at least one working day")
        if self.end <= self.start:
            raise ValueError(f"end {self.end:%H:%M} is not after start {self.start:%H:%M}")
        return self

    def _windows(self, after: datetime):
        """Yield (open, close) working windows in UTC, from the local day containing `after`."""
        tz = ZoneInfo(self.timezone)
        day = after.astimezone(tz).date()
        for _ in range(MAX_DAYS):
            if WEEKDAYS[day.weekday()] in self.days and day not in self.holidays:
                lo = datetime.combine(day, self.start, tz).astimezone(timezone.utc)
                hi = datetime.combine(day, self.end, tz).astimezone(timezone.utc)
                if hi > after:
                    yield max(lo, after), hi
            day += timedelta(days=1)
        raise ValueError(f"no working hours within {MAX_DAYS} days of {after.isoformat()}")

    def is_open(self, at: datetime) -> bool:
        for lo, _hi in self._windows(at):
            return lo <= at
        return False  # pragma: no cover - _windows raises first

    def add(self, start: datetime, seconds: float) -> datetime:
        """The moment `seconds` of working time have passed since `start`."""
        left = timedelta(seconds=seconds)
        cursor = start
        for lo, hi in self._windows(start):
            cursor = max(cursor, lo)
            if hi - cursor >= left:
                return cursor + left
            left -= hi - cursor
        raise AssertionError("unreachable")  # pragma: no cover


def add_time(calendar: Calendar | None, start: datetime, seconds: float) -> datetime:
    """Deadline `seconds` after `start`: wall-clock without a calendar, working time with one."""
    if calendar is None:
        return start + timedelta(seconds=seconds)
    return calendar.add(start, seconds)

