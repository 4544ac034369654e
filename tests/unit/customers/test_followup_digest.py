"""Follow-up rules (entering segments, churn crossing, valuable negatives, quiet period), digest, config errors."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from agents.customers import ClassifiedFeedback, CustomerProfile, build_digest, evaluate_followups, load_followup_config
from agents.customers.config import FollowUpRules
from agents.customers.rfm import Rfm
from pipeline.errors import ConfigError
from schemas.customers import FollowUpReason
from tests.support.factories import T0

RULES = FollowUpRules(quiet_period_days=14, churn_threshold=0.7)
AT_RISK = Rfm(2, 4, 4, "At risk")
CHAMPION = Rfm(5, 5, 5, "Champions")
LOST = Rfm(1, 1, 1, "Lost")


def reasons(tasks):
    return [t.reason for t in tasks]


def test_entering_at_risk_raises_once():
    p = CustomerProfile("c1")
    assert reasons(evaluate_followups(p, CHAMPION, 0.1, T0, RULES)) == []
    assert reasons(evaluate_followups(p, AT_RISK, 0.1, T0, RULES)) == [FollowUpReason.entered_at_risk]
    assert evaluate_followups(p, AT_RISK, 0.1, T0 + timedelta(days=1), RULES) == []   # still there: no news


def test_quiet_period_holds_back_a_repeat():
    p = CustomerProfile("c1")
    evaluate_followups(p, AT_RISK, 0.1, T0, RULES)
    evaluate_followups(p, CHAMPION, 0.1, T0 + timedelta(days=1), RULES)
    assert evaluate_followups(p, AT_RISK, 0.1, T0 + timedelta(days=13), RULES) == []
    evaluate_followups(p, CHAMPION, 0.1, T0 + timedelta(days=14), RULES)
    assert reasons(evaluate_followups(p, AT_RISK, 0.1, T0 + timedelta(days=15), RULES)) == [
        FollowUpReason.entered_at_risk]


def test_churn_threshold_crossing_and_quiet_period_survive_storage():
    p = CustomerProfile("c1")
    assert reasons(evaluate_followups(p, LOST, 0.8, T0, RULES, sweep=True)) == [FollowUpReason.churn_risk]
    p = CustomerProfile.from_dict(p.to_dict())
    assert evaluate_followups(p, LOST, 0.9, T0 + timedelta(hours=1), RULES, sweep=True) == []   # no new crossing
    evaluate_followups(p, LOST, 0.2, T0 + timedelta(days=2), RULES, sweep=True)
    assert evaluate_followups(p, LOST, 0.8, T0 + timedelta(days=3), RULES, sweep=True) == []    # crossed, but quiet
    evaluate_followups(p, LOST, 0.2, T0 + timedelta(days=20), RULES, sweep=True)
    assert reasons(evaluate_followups(p, LOST, 0.8, T0 + timedelta(days=21), RULES, sweep=True)) == [
        FollowUpReason.churn_risk]


def test_churn_risk_is_judged_by_sweeps_not_by_the_event_that_updated_the_profile():
    """A profile read mid-backlog (a daily buyer's first two orders, days old) looks lost at the wall clock;
    only a sweep, once the backlog is in, judges the crossing."""
    p = CustomerProfile("c1")
    assert evaluate_followups(p, LOST, 0.95, T0, RULES) == []
    assert reasons(evaluate_followups(p, LOST, 0.95, T0, RULES, sweep=True)) == [FollowUpReason.churn_risk]


def test_negative_feedback_only_from_valuable_customers():
    p = CustomerProfile("c1")
    assert evaluate_followups(p, LOST, 0.1, T0, RULES, negative_feedback=True) == []
    tasks = evaluate_followups(p, CHAMPION, 0.1, T0, RULES, negative_feedback=True)
    assert reasons(tasks) == [FollowUpReason.negative_feedback]


def test_task_ids_are_deterministic_for_a_redelivery():
    a = evaluate_followups(CustomerProfile("c1"), AT_RISK, 0.1, T0, RULES)[0]
    b = evaluate_followups(CustomerProfile("c1"), AT_RISK, 0.1, T0 + timedelta(minutes=5), RULES)[0]
    c = evaluate_followups(CustomerProfile("c2"), AT_RISK, 0.1, T0, RULES)[0]
    assert a.event_id == b.event_id != c.event_id
    assert a.event_type == "followup" and a.due_at == T0 + timedelta(hours=48)


def _fb(minutes, channel="web", region="north", score=0.0, negative=False, category="price", products=()):
    return ClassifiedFeedback(uuid.uuid4(), T0 + timedelta(minutes=minutes), "c1", channel, region, score,
                              negative, category, products)


def test_digest_groups_trend_and_products():
    start = T0
    records = [_fb(-30, score=0.5), _fb(10, score=-0.5, negative=True, products=("SKU-1",)),
               _fb(20, channel="phone", score=-1.0, negative=True, category="delivery", products=("SKU-1", "SKU-2")),
               _fb(30, region="south", score=0.5, products=("SKU-2", "SKU-2"))]
    records.append(records[1])                       # redelivery
    d = build_digest(records, "hour", start)
    overall = d.groups[0]
    assert (overall.channel, overall.region, overall.feedback_count, overall.negative_count) == (None, None, 3, 2)
    assert overall.mean_sentiment == pytest.approx(-1 / 3, abs=1e-4)
    assert overall.sentiment_trend == pytest.approx(-1 / 3 - 0.5, abs=1e-4)
    assert overall.complaints == {"delivery": 1, "price": 1}
    assert [(m.sku, m.count) for m in overall.top_products] == [("SKU-1", 2), ("SKU-2", 2)]
    assert {(g.channel, g.region) for g in d.groups[1:]} == {("phone", None), ("web", None), (None, "north"),
                                                            (None, "south")}
    assert d.period_end == start + timedelta(hours=1)


@pytest.mark.parametrize("text,fragment", [
    ("rules: {churn_threshold: 1.5}", "rules.churn_threshold"),
    ("rules: {watch_segments: [Champions]}", "cannot be watched"),
    ("rules: {valuable: {segments: [Loyl]}}", "unknown segment 'Loyl'"),
    ("scoring: {half_life: 3}", "scoring.half_life: Extra inputs"),
    ("- a list", "top level must be a mapping"),
    ("rules: [unclosed", "invalid YAML"),
])
def test_followup_config_errors_are_precise(tmp_path, text, fragment):
    path = tmp_path / "followup.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=None) as exc:
        load_followup_config(path)
    assert fragment in str(exc.value) and str(path) in str(exc.value)


def test_shipped_followup_config_loads():
    cfg = load_followup_config()
    assert cfg.rules.watch_segments == ("At risk", "Can't lose")
