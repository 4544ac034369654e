"""The case core: which feedback opens a case, merging per customer and category, owners, SLAs on the
business-hours calendar, breaches once, and actions that fit the state."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from agents.cases.core import breach_key, next_state
from agents.escalation.routing import CustomerContext
from schemas.events import Severity
from tests.unit.cases.factories import MON_10, make_cf, make_core

REP = CustomerContext(owner_rep_id="rep-3", region="south", segment="Loyal")


@pytest.mark.parametrize("sentiment,urgency,opens", [
    ("negative", "normal", True), ("negative", "high", True), ("negative", "critical", True),
    ("negative", "low", False), ("neutral", "normal", False), ("positive", "high", False),
])
def test_negative_feedback_that_needs_an_answer_opens_a_case(sentiment, urgency, opens):
    core = make_core()
    change = core.on_classified(make_cf(sentiment=sentiment, urgency=urgency), None, 0, None, MON_10)
    assert (change is not None and change.event == "opened") is opens


def test_one_case_per_customer_and_category_while_unresolved():
    core = make_core()
    first = core.on_classified(make_cf(), REP, 3, None, MON_10)
    again = core.on_classified(make_cf(at=MON_10 + timedelta(hours=1)), REP, 3, "feedback:delivery:x", MON_10)
    other = core.on_classified(make_cf(category="pricing"), REP, 3, None, MON_10)
    assert again.event == "updated" and again.case is first.case
    assert first.case.feedback_count == 2 and first.case.incident_key == "feedback:delivery:x"
    assert first.case.last_feedback_at == MON_10 + timedelta(hours=1)
    assert first.case.first_response_due == MON_10 + timedelta(hours=4)  # deadlines stay those of the opening
    assert other.event == "opened" and other.case.case_id != first.case.case_id
    # resolved: the next complaint opens a new case
    assert core.act(first.case, "resolve", MON_10 + timedelta(hours=2))
    reopened = core.on_classified(make_cf(at=MON_10 + timedelta(hours=3)), REP, 3, None, MON_10)
    assert reopened.event == "opened" and reopened.case.case_id != first.case.case_id


def test_a_redelivered_message_is_counted_once_and_names_the_same_case():
    cf = make_cf()
    a, b = make_core(), make_core()
    opened = a.on_classified(cf, REP, 0, None, MON_10)
    assert a.on_classified(cf, REP, 0, None, MON_10) is None
    assert b.on_classified(cf, REP, 0, None, MON_10).case.case_id == opened.case.case_id


@pytest.mark.parametrize("ctx,category,owner,team,region", [
    (REP, "delivery", "rep-3", "team-south", "south"),
    (CustomerContext(owner_rep_id="rep-99", region="north"), "delivery", "queue:after_sales", None, "north"),
    (None, "fraud_security", "queue:tech_support", None, None),
    (CustomerContext(region="east"), "legal", "queue:after_sales", None, "east"),
])
def test_the_owner_is_the_account_rep_else_the_categorys_queue(ctx, category, owner, team, region):
    case = make_core().on_classified(make_cf(category=category), ctx, 0, None, MON_10).case
    assert (case.owner, case.team, case.region) == (owner, team, region)


def test_slas_run_on_working_hours_with_segment_overrides():
    core = make_core()
    fri_17 = datetime(2026, 11, 6, 17, 0, tzinfo=timezone.utc)
    case = core.on_classified(make_cf(at=fri_17), REP, 0, None, fri_17).case
    # 1 h on Friday, 3 h from Monday 09:00; resolution 24 working hours = 1 + 9 + 9 + 5
    assert case.first_response_due == datetime(2026, 11, 9, 12, 0, tzinfo=timezone.utc)
    assert case.resolution_due == datetime(2026, 11, 11, 14, 0, tzinfo=timezone.utc)
    champ = core.on_classified(make_cf("c-2", at=fri_17), CustomerContext(segment="Champions"), 0, None, fri_17).case
    assert champ.first_response_due == datetime(2026, 11, 9, 10, 0, tzinfo=timezone.utc)
    around_the_clock = make_core(calendar=None).on_classified(make_cf(at=fri_17), REP, 0, None, fri_17).case
    assert around_the_clock.first_response_due == fri_17 + timedelta(hours=4)
    default = core.on_classified(make_cf(category="service", at=MON_10), REP, 0, None, MON_10).case
    assert default.first_response_due == MON_10 + timedelta(hours=8)


def test_each_sla_breaches_once_and_a_response_stops_the_first():
    core = make_core(calendar=None, breach_severity="high")
    case = core.on_classified(make_cf(), REP, 0, None, MON_10).case
    assert core.due(MON_10 + timedelta(hours=3)) == []
    [b] = core.due(MON_10 + timedelta(hours=4))
    assert (b.which, b.due) == ("first_response", MON_10 + timedelta(hours=4))
    core.mark_breached(b, MON_10 + timedelta(hours=4))
    assert core.due(MON_10 + timedelta(hours=5)) == []
    incident = core.breach_incident(b, MON_10 + timedelta(hours=4))
    assert incident.incident_key == breach_key(case.case_id, "first_response")
    assert (incident.category, incident.severity, incident.customer_id, incident.team, incident.region,
            incident.department) == ("case_sla_breach", Severity.high, "c-1", "team-south", "south", None)
    assert core.breach_incident(b, MON_10).event_id == incident.event_id  # raising it again merges
    core.act(case, "respond", MON_10 + timedelta(hours=5))
    [r] = core.due(MON_10 + timedelta(hours=24))
    assert r.which == "resolution"
    core.mark_breached(r, MON_10 + timedelta(hours=24))
    assert core.due(MON_10 + timedelta(days=30)) == []


def test_a_case_answered_in_time_breaches_nothing_but_its_resolution():
    core = make_core(calendar=None)
    case = core.on_classified(make_cf(), None, 0, None, MON_10).case
    core.act(case, "respond", MON_10 + timedelta(hours=1))
    assert [b.which for b in core.due(MON_10 + timedelta(hours=23))] == []
    late = core.due(MON_10 + timedelta(days=2))
    assert [b.which for b in late] == ["resolution"]
    assert core.breach_incident(late[0], MON_10).department == "after_sales"


def test_both_slas_missed_at_once_raise_both_in_order():
    core = make_core(calendar=None)
    core.on_classified(make_cf(), REP, 0, None, MON_10)
    assert [b.which for b in core.due(MON_10 + timedelta(days=5))] == ["first_response", "resolution"]


def test_a_breach_found_long_after_its_due_time_is_recorded_but_pages_nobody():
    core = make_core(calendar=None, page_breaches_within_hours=24)
    core.on_classified(make_cf(), REP, 0, None, MON_10)
    [b] = core.due(MON_10 + timedelta(hours=4))
    assert core.pages(b, MON_10 + timedelta(hours=4))
    assert core.pages(b, b.due + timedelta(hours=24))
    assert not core.pages(b, b.due + timedelta(hours=24, seconds=1))   # history loaded late: a backlog
    assert make_core(calendar=None, page_breaches_within_hours=None).pages(b, b.due + timedelta(days=90))


@pytest.mark.parametrize("state,action,to", [
    ("open", "respond", "responded"), ("open", "resolve", "resolved"), ("responded", "resolve", "resolved"),
    ("responded", "respond", None), ("resolved", "respond", None), ("resolved", "resolve", None),
])
def test_actions_fit_the_state(state, action, to):
    assert next_state(state, action) == to


def test_refresh_lays_peoples_actions_over_held_cases():
    from dataclasses import replace

    core = make_core(calendar=None)
    case = core.on_classified(make_cf(), REP, 0, None, MON_10).case
    stored = replace(case, state="responded", responded_at=MON_10, feedback_count=1, feedback_ids=[])
    case.feedback_count = 3
    assert core.refresh(stored) is None
    held = core.open[("c-1", "delivery")]
    assert (held.state, held.feedback_count) == ("responded", 3)
    assert core.refresh(replace(stored, state="resolved", resolved_at=MON_10)) is held
    assert core.open == {}


@pytest.mark.parametrize("text,raise_high", [
    ("The charger caught fire and burned my hand, this is dangerous!", True),
    ("My parcel is two weeks late and nobody answers my emails.", True),
    ("Someone logged into my account and ordered with my card, I did not place this order!", False),
])
def test_the_case_links_the_key_of_the_incident_critical_feedback_raised(text, raise_high):
    """The port the composition root hands the cases: the key `incident_for` gave the message's incident."""
    import uuid

    from agents.feedback.classifier import Classifier
    from agents.feedback.core import FeedbackCore
    from agents.feedback.incidents import incident_key_of
    from schemas.events import Channel, FeedbackEvent

    event = FeedbackEvent(event_id=uuid.uuid4(), occurred_at=MON_10, channel=Channel.email, customer_id="c-9",
                          text=text)
    out = FeedbackCore(Classifier.default(), raise_high=raise_high).process(event, MON_10)
    key = incident_key_of(out.classified, raise_high=raise_high)
    assert key == (out.incident.incident_key if out.incident is not None else None)
    case = make_core().on_classified(out.classified, None, 0, key, MON_10)
    if case is not None:
        assert case.case.incident_key == key


def test_a_case_row_holds_every_field_and_its_own_list_of_feedback():
    """Case.row is built by hand (dataclasses.asdict deep-copies every datetime): the same dict as
    asdict, and a later merge into the case does not reach a row already queued."""
    from dataclasses import asdict

    core = make_core()
    case = core.on_classified(make_cf(), REP, 3, None, MON_10).case
    row = case.row()
    assert row == asdict(case) and list(row) == list(asdict(case))
    core.on_classified(make_cf(), REP, 3, None, MON_10 + timedelta(minutes=5))
    assert len(case.feedback_ids) == 2 and len(row["feedback_ids"]) == 1
