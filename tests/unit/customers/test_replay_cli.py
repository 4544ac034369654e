"""`salespulse customers replay` and `salespulse kpis replay` as a user runs them."""

from __future__ import annotations

import json
from decimal import Decimal

from agents.cli.main import main
from schemas.events import OrderStatus
from tests.support.factories import at, make_feedback, make_order, make_spend


def write(tmp_path, events, extra=()):
    path = tmp_path / "events.jsonl"
    path.write_text("".join(e.model_dump_json() + "\n" for e in events) + "".join(extra))
    return path


EVENTS = [
    make_order(customer_id="b", order_id="o1", amount=Decimal("100"), campaign_id="spring-sale"),
    make_order(customer_id="b", order_id="o1", status=OrderStatus.shipped, occurred_at=at(60)),
    make_order(customer_id="b", order_id="o1", status=OrderStatus.refunded, occurred_at=at(120),
               amount=Decimal("25")),
    make_order(customer_id="a", order_id="o2", amount=Decimal("40"), occurred_at=at(30)),
    make_feedback(customer_id="a", rating=1, occurred_at=at(200)),
    make_spend(amount=Decimal("50")),
]


def test_customers_replay_prints_sorted_profiles(tmp_path, capsys):
    assert main(["customers", "replay", str(write(tmp_path, EVENTS))]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["customer_id"] for x in lines] == ["a", "b"]
    b = lines[1]
    assert (b["orders_count"], b["total_spend"], b["refunds"], b["average_order_value"]) == (
        1, "75.00", "25.00", "75.00")
    assert set(b["rfm"]) == {"r", "f", "m", "segment"} and 0 <= b["churn_risk"] <= 1
    assert lines[0]["feedback_count"] == 1 and lines[0]["occurred_at"] == "2026-11-02T12:20:00Z"  # now = latest


def test_bad_lines_are_reported_and_skipped(tmp_path, capsys):
    path = write(tmp_path, EVENTS[:1], extra=["{not json\n", '{"event_type": "order"}\n'])
    assert main(["customers", "replay", str(path), "--now", "2026-12-01T00:00:00+00:00"]) == 1
    out = capsys.readouterr()
    assert len(out.out.splitlines()) == 1
    errors = out.err.splitlines()
    assert len(errors) == 2 and f"{path}:2:" in errors[0] and f"{path}:3:" in errors[1]


def test_now_needs_a_timezone(tmp_path, capsys):
    assert main(["customers", "replay", str(write(tmp_path, EVENTS)), "--now", "2026-12-01"]) == 2
    assert "timezone" in capsys.readouterr().err


def test_kpis_replay(tmp_path, capsys):
    assert main(["kpis", "replay", str(write(tmp_path, EVENTS)), "--window", "total"]) == 0
    out = json.loads(capsys.readouterr().out)
    total = out["windows"]["total"][0]
    everything = next(r for r in total["rows"] if r["dimension"] == "all")
    assert (everything["orders"], everything["revenue"]) == (2, "115.00")
    campaign = total["campaigns"][0]
    assert campaign["campaign_id"] == "spring-sale" and campaign["roi"] == 0.5
