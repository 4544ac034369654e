"""The follow-up core: transitions (table and hypothesis), assignment, scope, silence and overdue on a virtual clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.customers.book import CustomerBook
from agents.customers.config import FollowUpRules, load_followup_config
from agents.customers.followup import evaluate_followups
from agents.customers.snapshot import profile_churn
from agents.escalation.directory import Directory, Person, Service
from agents.escalation.policy import DEFAULT_DIRECTORY
from agents.followups.core import (
    ACTIONS, FINAL, STATES, TRANSITIONS, Refused, allowed, assign, may_see, overdue, overdue_incident, transition, wake,
)
from pipeline.configfile import load_yaml
from schemas.customers import FollowUpReason
from tests.support.factories import IN_EUR, T0, make_order

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("action,state,ok", [
    ("start", "open", True), ("start", "in_progress", False), ("start", "snoozed", False),
    ("done", "open", True), ("done", "in_progress", True), ("done", "done", False), ("done", "snoozed", False),
    ("snooze", "open", True), ("snooze", "in_progress", True), ("snooze", "snoozed", False),
    ("dismiss", "open", True), ("dismiss", "in_progress", True), ("dismiss", "snoozed", True),
    ("dismiss", "dismissed", False), ("dismiss", "done", False), ("start", "done", False),
])
def test_which_state_allows_which_action(action, state, ok):
    assert allowed(action, state) is ok


def test_transition_values_and_refusals():
    assert transition("done", NOW).values == {"state": "done", "updated_at": NOW, "done_at": NOW}
    until = NOW + timedelta(days=1)
    assert transition("snooze", NOW, until=until).values["snoozed_until"] == until
    assert transition("dismiss", NOW, reason="  moved abroad ").values["dismiss_reason"] == "moved abroad"
    with pytest.raises(Refused, match="not in the future"):
        transition("snooze", NOW, until=NOW)
    with pytest.raises(Refused, match="until"):
        transition("snooze", NOW)
    with pytest.raises(Refused, match="reason"):
        transition("dismiss", NOW, reason="  ")
    with pytest.raises(Refused, match="unknown action"):
        transition("reopen", NOW)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(ACTIONS + ("wake",)), st.integers(0, 100)), max_size=30))
def test_any_sequence_of_actions_follows_the_machine(steps):
    """Whatever is tried in whatever order: final states never change, a refused action changes nothing, snoozed
    only ever comes from open/in_progress and leaves by waking or dismissal."""
    state, until, now = "open", None, NOW
    for action, minutes in steps:
        now += timedelta(minutes=minutes)
        before = state
        if action == "wake":
            if wake(state, until, now):
                state, until = "open", None
        elif allowed(action, state):
            change = transition(action, now, until=now + timedelta(minutes=30), reason="r")
            assert state in change.sources
            state = change.values["state"]
            until = change.values.get("snoozed_until", until)
        if before in FINAL:
            assert state == before
        if state == "snoozed" and before != "snoozed":
            assert before in TRANSITIONS["snooze"][0]
        assert state in STATES


def test_wake_and_overdue_on_a_virtual_clock():
    assert not wake("snoozed", NOW + timedelta(minutes=1), NOW)
    assert wake("snoozed", NOW, NOW) and not wake("open", NOW, NOW)
    assert overdue("open", NOW - timedelta(seconds=1), None, NOW)
    assert overdue("in_progress", NOW - timedelta(seconds=1), None, NOW)
    assert not overdue("open", NOW - timedelta(seconds=1), NOW, NOW), "escalated once"
    assert not overdue("snoozed", NOW - timedelta(days=1), None, NOW)
    assert not overdue("open", NOW, None, NOW)


@pytest.fixture(scope="module")
def directory() -> Directory:
    return load_yaml(DEFAULT_DIRECTORY, Directory)


def test_assignment_owner_else_region_queue(directory):
    a = assign("rep-1", "north", directory)
    assert (a.assignee, a.team, a.region) == ("rep-1", "team-north", "north")
    assert assign("rep-unknown", "south", directory).assignee == "queue:south"
    assert assign(None, None, directory).assignee == "queue:unassigned"


def test_scope(directory):
    rep1, rep2, lead = directory.person("rep-1"), directory.person("rep-2"), directory.person("lead-north")
    manager, boss = directory.person("manager-north"), directory.person("director")
    assert may_see(rep1, "rep-1", "north", "team-north")
    assert not may_see(rep2, "rep-1", "north", "team-north"), "a rep sees their own and the queue only"
    assert may_see(rep2, "queue:north", "north", None)
    assert not may_see(rep1, "queue:south", "south", None)
    assert may_see(lead, "rep-1", "north", "team-north") and not may_see(lead, "rep-3", "south", "team-south")
    assert may_see(manager, "queue:north", "north", None) and not may_see(manager, "rep-3", "south", "team-south")
    assert may_see(boss, "rep-3", "south", "team-south")
    svc = Service(id="bi", name="BI", scopes=("read:followups",), region="south", token_sha256="0" * 64)
    assert may_see(svc, "rep-3", "south", None) and not may_see(svc, "rep-1", "north", None)


def test_overdue_incident_names_the_team_lead_route(directory):
    row = {"event_id": "e-1", "customer_id": "c-1", "reason": "silent_valuable", "assignee": "queue:east",
           "region": "east", "team": None, "due_at": NOW - timedelta(hours=1), "state": "open", "detail": "x"}
    ev = overdue_incident(row, NOW, "low", directory)
    assert ev.incident_key == "followup-overdue:e-1" and ev.category == "followup_overdue"
    assert ev.severity.value == "low" and ev.team == "team-east" and ev.region == "east"
    assert ev.event_id == overdue_incident(row, NOW + timedelta(hours=1), "low", directory).event_id


def _champion(book: CustomerBook, days: int = 5, orders: int = 5) -> None:
    for i in range(orders):
        book.order(make_order(customer_id="champ", order_id=f"o{i}", occurred_at=T0 + timedelta(days=days * i),
                              amount=Decimal("500.00")))
    for c in range(4):
        book.order(make_order(customer_id=f"small{c}", order_id=f"s{c}", occurred_at=T0, amount=Decimal("10.00"),
                              items=()))


def test_silent_valuable_raised_once_at_the_sweep_after_crossing():
    """Sweeps every hour on a virtual clock: nothing while the customer is within their 5-day rhythm, exactly one
    silent_valuable at the first sweep past it, none after; the id names the silence (a crash repeats it)."""
    book = CustomerBook(rates=IN_EUR)
    _champion(book)
    p = book.profiles["champ"]
    last = T0 + timedelta(days=20)
    rules = FollowUpRules(churn_threshold=0.99)
    raised = []
    for hour in range(0, 24 * 8):
        now = last + timedelta(hours=hour)
        tasks = evaluate_followups(p, book.population.score(p.rfm_key()), profile_churn(p, now, book.params), now,
                                   rules, silent_factor=1.0, sweep=True)
        raised += [(hour, t) for t in tasks if t.reason is FollowUpReason.silent_valuable]
    assert [h for h, _ in raised] == [24 * 5 + 1], "first sweep after 5 days of silence, once"
    # replayed from the profile as it was before the sweep (a crash before its state was stored): the same id
    again = CustomerBook(rates=IN_EUR)
    _champion(again)
    q = again.profiles["champ"]
    now = last + timedelta(hours=24 * 5 + 1)
    assert not evaluate_followups(q, again.population.score(q.rfm_key()), 0.0, now, rules), "only sweeps judge silence"
    t2 = evaluate_followups(q, again.population.score(q.rfm_key()), 0.0, now, rules, sweep=True)
    assert [t.event_id for t in t2 if t.reason is FollowUpReason.silent_valuable] == [raised[0][1].event_id]
    # a new order ends the silence; a silence within the quiet period is not raised again, a later one is
    book.order(make_order(customer_id="champ", order_id="o-new", occurred_at=now, amount=Decimal("500.00")))
    assert not evaluate_followups(p, book.population.score(p.rfm_key()), 0.0, now + timedelta(days=10), rules,
                                  sweep=True)
    later = now + timedelta(days=rules.quiet_period_days + 1)
    t3 = evaluate_followups(p, book.population.score(p.rfm_key()), 0.0, later, rules, sweep=True)
    assert [t.reason for t in t3] == [FollowUpReason.silent_valuable] and t3[0].event_id != raised[0][1].event_id


def test_profile_keeps_the_raised_silence():
    from agents.customers.profile import CustomerProfile

    book = CustomerBook(rates=IN_EUR)
    _champion(book)
    p = book.profiles["champ"]
    evaluate_followups(p, book.population.score(p.rfm_key()), 0.0, T0 + timedelta(days=40), FollowUpRules(), sweep=True)
    assert CustomerProfile.from_dict(p.to_dict()).fu_silent == p.last_ts


def test_shipped_lifecycle_config_and_mistakes(tmp_path):
    cfg = load_followup_config()
    assert cfg.lifecycle.overdue_severity == "low"
    assert cfg.lifecycle.due_in_hours("entered_cant_lose", 48) == 24
    bad = tmp_path / "followup.yaml"
    bad.write_text("version: 1\nlifecycle:\n  due_hours:\n    silent_valueable: 12\n")
    from pipeline.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown follow-up reason 'silent_valueable'"):
        load_followup_config(bad)


def test_person_notify_preferences_validated():
    p = Person(id="x", name="X", role="account_rep", email="x@example.com", webhook="https://hooks.example/x",
               notify=("email", "webhook"), notify_every_minutes=5)
    assert p.notify == ("email", "webhook")
    with pytest.raises(ValueError):
        Person(id="x", name="X", role="account_rep", notify=("pager",))


def test_notify_needs_the_channel_address():
    with pytest.raises(ValueError, match="notified by webhook but has no webhook"):
        Person(id="x", name="X", role="account_rep", email="x@example.com", notify=("email", "webhook"))


def test_notice_periods():
    from pipeline.notify.batch import period_start

    t = datetime(2026, 12, 7, 10, 7, 31, tzinfo=timezone.utc)
    assert period_start(t, 15) == datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc)
    assert period_start(t, 0.1) == datetime(2026, 12, 7, 10, 7, 30, tzinfo=timezone.utc)
    assert period_start(t + timedelta(minutes=8), 15) == datetime(2026, 12, 7, 10, 15, tzinfo=timezone.utc)
