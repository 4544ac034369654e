"""Business hours: the ack clock pauses outside a level's hours; urgent routes ignore calendars."""

from __future__ import annotations

from datetime import date, datetime, time, timezone

import pytest

from agents.escalation.calendar import Calendar
from agents.escalation.machine import due, on_incident
from schemas.events import Severity
from tests.unit.escalation.factories import incident

UTC = timezone.utc
OFFICE = Calendar(timezone="UTC", start=time(9), end=time(18), holidays=frozenset({date(2026, 12, 25)}))


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize("start,minutes,expected", [
    (utc(2026, 11, 2, 10, 0), 15, utc(2026, 11, 2, 10, 15)),     # Monday, inside hours
    (utc(2026, 11, 2, 17, 50), 30, utc(2026, 11, 3, 9, 20)),     # pauses overnight
    (utc(2026, 11, 2, 22, 0), 15, utc(2026, 11, 3, 9, 15)),      # starts at the next opening
    (utc(2026, 11, 6, 17, 0), 120, utc(2026, 11, 9, 10, 0)),     # Friday -> Monday
    (utc(2026, 11, 7, 12, 0), 15, utc(2026, 11, 9, 9, 15)),      # Saturday
    (utc(2026, 12, 24, 17, 30), 60, utc(2026, 12, 28, 9, 30)),   # Christmas is a holiday, then the weekend
    (utc(2026, 11, 2, 9, 0), 9 * 60 * 2, utc(2026, 11, 3, 18, 0)),  # exactly two working days
])
def test_working_time_is_added_inside_hours_only(start, minutes, expected):
    assert OFFICE.add(start, minutes * 60) == expected


def test_time_zone_and_daylight_saving():
    berlin = Calendar(timezone="Europe/Berlin", start=time(9), end=time(17))
    # 2026-03-27 is a Friday; summer time starts on Sunday 29 March (UTC+1 -> UTC+2)
    assert berlin.add(utc(2026, 3, 27, 15, 30), 60 * 60) == utc(2026, 3, 30, 7, 30)  # 09:30 CEST
    assert berlin.is_open(utc(2026, 3, 30, 7, 0)) and not berlin.is_open(utc(2026, 3, 30, 6, 59))


def test_is_open():
    assert OFFICE.is_open(utc(2026, 11, 2, 9, 0))
    assert not OFFICE.is_open(utc(2026, 11, 2, 18, 0))
    assert not OFFICE.is_open(utc(2026, 11, 7, 12, 0))


def test_low_incident_on_friday_evening_waits_for_monday(shipped_policy):
    friday = utc(2026, 11, 6, 17, 50)
    s, first = on_incident(None, incident(severity=Severity.low, occurred_at=friday), shipped_policy, None, friday)
    assert first[0].at == friday                          # the rep is told at once ...
    assert first[0].ack_by == utc(2026, 11, 9, 9, 20)      # ... but has 30 working minutes (10 Fri + 20 Mon)
    _, more = due(s, shipped_policy, utc(2026, 11, 9, 9, 20))
    assert [(a.level, a.at) for a in more] == [(2, utc(2026, 11, 9, 9, 20))]


def test_critical_ignores_business_hours(shipped_policy):
    friday = utc(2026, 11, 6, 17, 50)
    s, _ = on_incident(None, incident(severity=Severity.critical, occurred_at=friday), shipped_policy, None, friday)
    _, more = due(s, shipped_policy, utc(2026, 11, 6, 19, 0))
    assert [(a.level, a.at) for a in more] == [(3, utc(2026, 11, 6, 18, 20))]


def test_a_calendar_without_hours_is_refused():
    with pytest.raises(ValueError, match="at least one working day"):
        Calendar(days=())
