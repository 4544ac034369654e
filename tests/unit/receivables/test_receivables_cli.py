"""`salespulse receivables replay` as a user runs it: what the sweep would raise by --now, and the ageing."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

from agents.cli.main import main
from schemas.events import OrderStatus
from tests.support.factories import T0, make_order

EVENTS = [
    make_order(customer_id="a", order_id="late", status=OrderStatus.invoiced, amount=Decimal("300"),
               currency="USD", payment_due_at=T0 + timedelta(days=5), sales_rep_id="rep-3", region="south"),
    make_order(customer_id="b", order_id="paid", status=OrderStatus.invoiced, currency="USD",
               payment_due_at=T0 + timedelta(days=5)),
    make_order(customer_id="b", order_id="paid", status=OrderStatus.paid, currency="USD",
               occurred_at=T0 + timedelta(days=4)),
    make_order(customer_id="c", order_id="terms", status=OrderStatus.invoiced, currency="USD",
               occurred_at=T0 + timedelta(days=1)),
]


def run(tmp_path, capsys, *args) -> tuple[int, list[dict]]:
    path = tmp_path / "events.jsonl"
    path.write_text("".join(e.model_dump_json() + "\n" for e in EVENTS) + "{not json}\n")
    code = main(["receivables", "replay", str(path), *args])
    return code, [json.loads(x) for x in capsys.readouterr().out.splitlines()]


def test_replay_prints_the_overdue_receivables_and_who_is_told(tmp_path, capsys):
    code, lines = run(tmp_path, capsys, "--now", (T0 + timedelta(days=6)).isoformat())
    assert code == 1  # the bad line is reported, the rest replayed
    assert lines == [{"customer_id": "a", "order_id": "late", "reason": "payment_overdue", "owner": "rep-3",
                      "team": "team-south", "region": "south", "finance": ["finance"],
                      "due_at": (T0 + timedelta(days=5)).isoformat(), "state": "open", "event": "raised"}]
    # the default terms (30 days from the invoice) make "terms" overdue later
    _, later = run(tmp_path, capsys, "--now", (T0 + timedelta(days=32)).isoformat())
    assert [x["order_id"] for x in later] == ["late", "terms"]


def test_replay_ageing(tmp_path, capsys):
    _, (report,) = run(tmp_path, capsys, "--now", (T0 + timedelta(days=40)).isoformat(), "--ageing")
    assert report["total"]["31-60"] == {"count": 1, "amount": "300.00"}
    assert report["total"]["0-30"]["count"] == 1 and report["by_region"]["south"]["31-60"]["count"] == 1


def test_a_bad_config_is_one_line(tmp_path, capsys):
    bad = tmp_path / "receivables.yaml"
    bad.write_text("version: 1\noverdue:\n  sweep_interval_s: -1\n")
    events = tmp_path / "none.jsonl"
    events.write_text("")
    assert main(["receivables", "replay", str(events), "--now", T0.isoformat(), "--config", str(bad)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.endswith("receivables.yaml:3: overdue.sweep_interval_s: Input should be greater than 0")
