"""Digest content cut to a subscriber's scope: their region, else their team, else everything."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from agents.escalation.directory import Person
from agents.receivables.digest_scope import Feedback, Mention, Overdue, Scope, Signal, build, period_start, render

START = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)


def fb(current, region, team, negative, category, score, count=1):
    return Feedback(current, region, team, negative, category, count, score * count)


FEEDBACK = [fb(True, "north", "team-north", True, "delivery", -0.8), fb(True, "north", "team-north", False, "pricing", 0.5),
            fb(False, "north", "team-north", False, "service", 0.9),
            fb(True, "south", "team-south", True, "pricing", -0.6)]
MENTIONS = [Mention("shopfast", "north", "team-north"), Mention("jd", "south", "team-south")]
SIGNALS = [Signal("signal:a", "market_signal", "high", "Complaints up in south", "south", None)]
OVERDUE = [Overdue("north", "team-north"), Overdue("south", "team-south", 2)]


def digest(scope):
    return build("hour", START, scope, FEEDBACK, MENTIONS, SIGNALS, OVERDUE, {"open_cases": None})


def test_a_regional_subscriber_gets_only_their_regions_figures():
    north = digest(Scope(region="north"))
    assert (north["feedback_count"], north["negative_count"], north["complaints"]) == (2, 1, {"delivery": 1})
    assert north["competitors"] == {"shopfast": 1} and north["signals"] == [] and north["overdue_receivables"] == 1
    assert north["mean_sentiment"] == -0.15 and north["sentiment_trend"] == -1.05
    south = digest(Scope(region="south"))
    assert (south["feedback_count"], south["complaints"], south["overdue_receivables"]) == (1, {"pricing": 1}, 2)
    assert [s["incident_key"] for s in south["signals"]] == ["signal:a"]


def test_counted_groups_weigh_by_their_count():
    many = build("day", START, Scope(), [fb(True, "east", None, True, "delivery", -0.5, count=3),
                                         fb(True, "east", None, False, "service", 1.0, count=1)], [], [], [], {})
    assert (many["feedback_count"], many["negative_count"], many["complaints"]) == (4, 3, {"delivery": 3})
    assert many["mean_sentiment"] == -0.125 and many["period_end"] == (START + timedelta(days=1)).isoformat()


def test_team_scope_and_everything():
    assert digest(Scope(team="team-south"))["competitors"] == {"jd": 1}
    everything = digest(Scope())
    assert everything["feedback_count"] == 3 and everything["complaints"] == {"delivery": 1, "pricing": 1}


def test_scope_of_a_person_prefers_region_then_team():
    p = dict(id="x", name="X", role="team_lead")
    assert Scope.of(Person(**p, team="t", region="north")) == Scope(region="north")
    assert Scope.of(Person(**p, team="t")) == Scope(team="t")
    assert Scope.of(Person(**p)) == Scope()


def test_the_text_names_the_scope_and_only_its_categories():
    subject, text = render(digest(Scope(region="north")), Scope(region="north"))
    assert "region north" in subject and "delivery: 1" in text and "pricing" not in text and "jd" not in text


def test_period_start_is_the_last_complete_period():
    now = datetime(2026, 11, 2, 10, 7, tzinfo=timezone.utc)
    assert period_start(now, "hour") == datetime(2026, 11, 2, 9, tzinfo=timezone.utc)
    assert period_start(now, "day") == datetime(2026, 11, 1, tzinfo=timezone.utc)


def test_a_subscriber_needs_somewhere_to_receive_digests():
    import pytest

    with pytest.raises(ValueError, match="subscribes to digests but has no email or webhook"):
        Person(id="x", name="X", role="director", digests=("daily",))
    assert Person(id="x", name="X", role="director", digests=("daily",), webhook="https://hooks.example/x").digests
