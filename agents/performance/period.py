"""`2026-11` / `2026-Q4` -> Period: the calendar month or quarter (UTC, [start, end)) that targets, scorecards
and incentive statements are kept by."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal

from pipeline.errors import UserInputError

_PERIOD = re.compile(r"^(\d{4})-(?:(0[1-9]|1[0-2])|Q([1-4]))$")


class PeriodError(UserInputError, ValueError):
    """Not a month or a quarter: one line at the CLI and API, a ConfigProblem inside a config validator."""


@dataclass(frozen=True, slots=True)
class Period:
    """A calendar month (`2026-11`) or quarter (`2026-Q4`) in UTC: [start, end)."""

    text: str
    year: int
    months: tuple[int, ...]

    @property
    def kind(self) -> Literal["month", "quarter"]:
        return "month" if len(self.months) == 1 else "quarter"

    @property
    def is_month(self) -> bool:
        return len(self.months) == 1

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.months[0], 1, tzinfo=timezone.utc)

    @property
    def end(self) -> datetime:
        last = self.months[-1]
        return datetime(self.year + (last == 12), 1 if last == 12 else last + 1, 1, tzinfo=timezone.utc)

    def __contains__(self, at: datetime) -> bool:
        return self.start <= at < self.end

    def month_periods(self) -> list[Period]:
        return [Period(f"{self.year}-{m:02d}", self.year, (m,)) for m in self.months]


def parse_period(text: str) -> Period:
    """`2026-11` or `2026-Q4` -> Period; PeriodError naming the expected form otherwise."""
    m = _PERIOD.match(str(text).strip())
    if m is None:
        raise PeriodError(f"period must be a month (2026-11) or a quarter (2026-Q4), not {str(text)[:40]!r}")
    year = int(m.group(1))
    if m.group(2):
        return Period(m.group(0), year, (int(m.group(2)),))
    q = int(m.group(3))
    return Period(m.group(0), year, (3 * q - 2, 3 * q - 1, 3 * q))
