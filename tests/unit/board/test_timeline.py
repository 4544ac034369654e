"""A customer's timeline: entries from each source in one shape, newest first, providers' entries checked, and
who may read it (over a real database: the rows as the pipeline stores them)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import orjson
import pytest

from agents.board.timeline import case_entries, followup_entry, merge, normalise, order_entry, timeline
from agents.customers.profile import CustomerProfile
from agents.escalation.machine import on_incident
from agents.escalation.policy import load_policy
from pipeline.db.engine import make_engine
from pipeline.db.migrate import upgrade
from pipeline.db.models import (ClassifiedFeedbackRow, CustomerProfileRow, FollowUpRow, IncidentRow,
                                ReceivedEvent)
from pipeline.settings import DatabaseSettings
from tests.unit.escalation.factories import incident

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=timezone.utc)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


# -- the pure parts ------------------------------------------------------------------------------

def test_provider_entries_are_kept_in_shape_or_dropped():
    good = normalise({"at": at(1), "kind": "case", "id": 7, "title": "Case: delivery", "state": "open",
                      "due_at": "2026-11-03T10:00:00Z", "extra": "ignored"})
    assert good == {"at": at(1).isoformat(), "kind": "case", "id": "7", "title": "Case: delivery", "state": "open",
                    "due_at": "2026-11-03T10:00:00Z", "detail": None, "severity": None}
    assert normalise({"at": at(1), "kind": "case", "id": "x"}) is None                  # no title
    assert normalise({"at": "yesterday", "kind": "case", "id": "x", "title": "t"}) is None
    assert normalise({"at": "2026-11-02T10:00:00", "kind": "case", "id": "x", "title": "t"}) is None  # no offset
    assert normalise({"at": datetime(2026, 11, 2), "kind": "case", "id": "x", "title": "t"}) is None
    assert normalise(["not", "a", "mapping"]) is None


def test_merge_is_newest_first_stable_and_one_entry_per_kind_and_id():
    a = [normalise({"at": at(h), "kind": "order", "id": f"o{h}", "title": "Order"}) for h in (1, 3)]
    b = [normalise({"at": at(2), "kind": "feedback", "id": "f", "title": "Late"}),
         normalise({"at": at(3), "kind": "case", "id": "c", "title": "Case"}),
         # the same instant written with another offset sorts by the instant, not the text
         normalise({"at": (at(2.5)).astimezone(timezone(timedelta(hours=8))).isoformat(), "kind": "incident",
                    "id": "i", "title": "Incident"})]
    merged = merge([a, b, [dict(a[0], title="a duplicate")]], limit=10)
    assert [(e["kind"], e["id"]) for e in merged] == [("case", "c"), ("order", "o3"), ("incident", "i"),
                                                      ("feedback", "f"), ("order", "o1")]
    assert merged[-1]["title"] == "Order"
    assert len(merge([a, b], limit=2)) == 2


def test_case_rows_of_the_cases_contract_become_entries():
    rows = [{"id": "k1", "customer_id": "c", "category": "after_sales", "state": "open", "owner": "rep-1",
             "opened_at": at(0).isoformat(), "first_response_due": at(4).isoformat(),
             "resolution_due": at(48).isoformat(), "feedback_count": 2, "breach": None},
            {"id": "k2", "customer_id": "c", "category": "billing", "state": "responded", "owner": "queue:finance",
             "opened_at": at(1).isoformat(), "first_response_due": at(2).isoformat(),
             "resolution_due": at(30).isoformat(), "feedback_count": 1, "breach": "first_response"},
            {"id": "k3", "state": "resolved", "opened_at": at(1).isoformat()},          # no category: still shown
            {"id": None, "state": "open", "opened_at": at(1).isoformat()}]             # no id: dropped
    e1, e2, e3 = case_entries(rows)
    assert (e1["title"], e1["due_at"], e1["detail"]) == ("Case: after sales", at(4).isoformat(), "owner rep-1 · 2 messages")
    assert e2["due_at"] == at(30).isoformat() and e2["severity"] == "high" and "first_response SLA breached" in e2["detail"]
    assert e3["due_at"] is None and e3["title"] == "Case: other"


def test_an_order_event_reads_its_payload_and_survives_a_bad_one():
    payload = orjson.dumps({"order_id": "o-9", "status": "paid", "amount": "129.90", "currency": "EUR",
                            "items": [{"sku": "A"}, {"sku": "B"}]}).decode()
    e = order_entry("e1", at(0), "web", payload)
    assert (e["title"], e["state"], e["detail"]) == ("Order o-9", "paid", "129.90 EUR · web · 2 lines")
    bad = order_entry("e2", at(0), None, "\x00not json")
    assert (bad["title"], bad["state"], bad["detail"]) == ("Order", None, None)


def test_a_followup_row_before_and_after_the_lifecycle_columns():
    today = {"event_id": "f1", "customer_id": "c", "reason": "churn_risk", "owner_rep_id": "rep-1",
             "created_at": at(0), "due_at": at(24), "task": {}}
    e = followup_entry(today)
    assert (e["title"], e["state"], e["due_at"], e["detail"]) == ("Follow-up: churn risk", "open", at(24).isoformat(),
                                                                   "for rep-1")
    done = followup_entry({**today, "state": "done", "assignee": "queue:north"})
    assert (done["state"], done["due_at"], done["detail"]) == ("done", None, "for queue:north")


# -- over a real database ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def policy():
    return load_policy()


@pytest.fixture
async def engine(db_url):
    engine = make_engine(DatabaseSettings(url=db_url))
    await upgrade(engine)
    yield engine
    await engine.dispose()


def profile_row(cid: str, region: str | None, rep: str | None) -> dict:
    p = CustomerProfile(cid)
    p.region, p.rep = region, rep
    return {"customer_id": cid, "partition": 0, "orders_count": 1, "total_spend": Decimal("10"),
            "refunds": Decimal("0"), "average_order_value": Decimal("10"), "first_order_at": at(0),
            "last_order_at": at(0), "segment": "Champions", "churn_risk": 0.1, "updated_at": at(0),
            "snapshot": {}, "state": p.to_dict()}


def incident_row(policy, key: str, cid: str, region: str, hours: float) -> dict:
    s, _ = on_incident(None, incident(key=key, customer_id=cid, region=region, occurred_at=at(hours)), policy, None,
                       at(hours))
    return {"incident_key": key, "partition": 0, "status": s.status, "severity": s.severity.value,
            "category": s.category, "title": s.title, "customer_id": cid, "region": region,
            "level": s.current.level, "level_name": s.current.name, "loop": 0, "count": 1, "first_seen": at(hours),
            "last_seen": at(hours), "next_deadline": at(hours + 0.25), "acked_by": None, "acked_at": None,
            "resolved_by": None, "resolved_at": None, "parent_key": None, "updated_at": at(hours), "state": s.to_dict()}


@pytest.fixture
async def stored(engine, policy):
    """Customer north-1 (north, rep-1) with an order, a feedback, an incident and a follow-up; south-1 (south,
    rep-3) with an order; ghost-1 with no profile and a north incident only."""
    async with engine.begin() as conn:
        await conn.execute(CustomerProfileRow.__table__.insert(), [profile_row("north-1", "north", "rep-1"),
                                                                   profile_row("south-1", "south", "rep-3")])
        await conn.execute(ReceivedEvent.__table__.insert(), [
            {"event_id": f"ev-{cid}", "event_type": "order", "customer_id": cid, "channel": "web", "occurred_at": at(1),
             "received_at": at(1), "topic": "orders", "partition": 0, "offset": i,
             "payload": orjson.dumps({"order_id": f"o-{cid}", "status": "paid", "amount": "10", "currency": "EUR"}).decode()}
            for i, cid in enumerate(("north-1", "south-1"))] + [
            {"event_id": "ev-funnel", "event_type": "funnel", "customer_id": "north-1", "channel": None,
             "occurred_at": at(5), "received_at": at(5), "topic": "funnel", "partition": 0, "offset": 9, "payload": "{}"}])
        await conn.execute(ClassifiedFeedbackRow.__table__.insert(), [{
            "event_id": "fb-1", "customer_id": "north-1", "channel": "phone", "occurred_at": at(2), "classified_at": at(2),
            "text": "The parcel came late and the box was crushed.", "language": "en", "category": "delivery",
            "sentiment": "negative", "sentiment_score": -0.7, "urgency": "high", "confidence": {}, "evidence": {},
            "needs_review": False, "order_id": None, "aspects": None, "competitors": None}])
        await conn.execute(IncidentRow.__table__.insert(), [incident_row(policy, "inc-n", "north-1", "north", 3),
                                                            incident_row(policy, "inc-g", "ghost-1", "north", 3)])
        await conn.execute(FollowUpRow.__table__.insert(), [{
            "event_id": "fu-1", "customer_id": "north-1", "reason": "negative_feedback", "owner_rep_id": "rep-1",
            "created_at": at(4), "due_at": at(28), "task": {}}])


async def test_the_timeline_holds_each_source_newest_first(engine, stored, policy):
    d = policy.directory
    got = await timeline(engine, d.person("rep-1"), "north-1", d)
    assert [(e["kind"], e["id"]) for e in got["entries"]] == [
        ("followup", "fu-1"), ("incident", "inc-n"), ("feedback", "fb-1"), ("order", "ev-north-1")]
    assert got["incomplete"] is False
    order = got["entries"][-1]
    assert (order["title"], order["state"], order["detail"]) == ("Order o-north-1", "paid", "10 EUR · web")
    feedback = got["entries"][2]
    assert feedback["state"] == "negative" and feedback["severity"] == "high" and "crushed" in feedback["title"]
    assert got["entries"][1]["due_at"] == at(3.25).isoformat()
    assert len((await timeline(engine, d.person("rep-1"), "north-1", d, limit=2))["entries"]) == 2


@pytest.mark.parametrize("person,customer,sees", [
    ("rep-1", "north-1", True), ("rep-2", "north-1", True), ("lead-north", "north-1", True),
    ("director", "north-1", True), ("director", "south-1", True),
    ("rep-3", "north-1", False), ("manager-south", "north-1", False), ("rep-1", "south-1", False),
    # no profile: whoever sees one of the customer's incidents
    ("manager-north", "ghost-1", True), ("rep-3", "ghost-1", False),
    ("director", "nobody", False),
])
async def test_scoped_like_the_customer_route(engine, stored, policy, person, customer, sees):
    d = policy.directory
    got = await timeline(engine, d.person(person), customer, d)
    assert (got is not None) is sees


async def test_providers_add_entries_and_a_failing_one_marks_the_timeline_incomplete(engine, stored, policy):
    d = policy.directory
    asked = []

    async def cases(customer_id: str, limit: int):
        asked.append((customer_id, limit))
        return [{"at": at(6), "kind": "case", "id": "case-1", "title": "Case: delivery", "state": "open",
                 "due_at": at(10)},
                {"kind": "case", "id": "case-bad", "title": "no time"}]

    async def broken(customer_id: str, limit: int):
        raise ConnectionError("cases database away")

    got = await timeline(engine, d.person("rep-1"), "north-1", d, [cases], limit=50)
    assert got["entries"][0]["id"] == "case-1" and asked == [("north-1", 50)]
    assert "case-bad" not in {e["id"] for e in got["entries"]} and got["incomplete"] is False
    partial = await timeline(engine, d.person("rep-1"), "north-1", d, [broken, cases])
    assert partial["incomplete"] is True and partial["entries"][0]["id"] == "case-1"
    # the provider is not asked about a customer the reader may not see
    asked.clear()
    assert await timeline(engine, d.person("rep-3"), "north-1", d, [cases]) is None and asked == []
