"""Incentive statements from a real stream: order events through the broker and the worker into the events
table, read back by `orders_from_db`, give the same statement as the offline CLI on the same events."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from agents.performance.incentives import events_window, load_plans, parse_period, statement
from agents.performance.ledger import orders_from_db
from pipeline.currency import load_rates
from pipeline.db.engine import make_engine
from pipeline.emitter import Emitter
from pipeline.settings import DatabaseSettings
from schemas.events import Channel, OrderEvent, OrderStatus
from tests.support.services import ROOT, query, wait_until

pytestmark = pytest.mark.integration


def test_a_statement_from_the_stored_stream_matches_the_offline_one(broker, make_worker, db_url, run_id, tmp_path):
    now = datetime.now(timezone.utc)
    last = (now.replace(day=1) - timedelta(days=1))
    period = parse_period(f"{last:%Y-%m}")
    plan_file = tmp_path / "incentives.yaml"
    plan_file.write_text((ROOT / "config" / "incentives.yaml").read_text().replace("clawback_days: 30",
                                                                                    "clawback_days: 2"))
    rep = "rep-1"           # an account_rep of config/directory.yaml: the role plan pays them
    start = period.start

    def order(oid: str, status: OrderStatus, days: float, amount: str, currency: str = "USD") -> OrderEvent:
        return OrderEvent(occurred_at=start + timedelta(days=days), channel=Channel.web, customer_id=f"c-{oid}",
                          order_id=f"{run_id}-{oid}", status=status, amount=Decimal(amount), currency=currency,
                          sales_rep_id=rep, region="north")

    events = [order("a", OrderStatus.paid, 1, "30000"), order("a", OrderStatus.refunded, 2.5, "1000"),   # inside
              order("b", OrderStatus.paid, 2, "10000", "EUR"), order("c", OrderStatus.paid, 3, "9000"),
              order("c", OrderStatus.refunded, 8, "9000"),                                               # too late
              order("d", OrderStatus.paid, 4, "500"), order("d", OrderStatus.cancelled, 5, "500")]       # inside
    w = make_worker("w1")
    w.wait_ready()
    with Emitter(broker.bootstrap, topic_prefix=f"t{run_id}.") as em:
        for e in events:
            em.emit(e)
        em.flush()
    wait_until(lambda: query(db_url, "SELECT count(*) FROM events WHERE event_type = 'order'") == [(len(events),)],
               timeout=60, message="the order events stored")

    plan = load_plans(plan_file).plans[0]

    async def stored() -> list[OrderEvent]:
        engine = make_engine(DatabaseSettings(url=db_url))
        try:
            return await orders_from_db(engine, *events_window(plan, period))
        finally:
            await engine.dispose()

    from_db = asyncio.run(stored())
    assert sorted(str(e.event_id) for e in from_db) == sorted(str(e.event_id) for e in events)
    rates = load_rates()
    s = statement(plan, from_db, rep, period.text, Decimal(40000), rates)
    eur = rates.convert(Decimal(10000), "EUR", start + timedelta(days=2))
    assert s.revenue == Decimal(29000) + eur + Decimal(9000)

    path = tmp_path / "events.jsonl"
    path.write_text("".join(e.model_dump_json() + "\n" for e in events))
    cli = subprocess.run([sys.executable, "-m", "agents.cli.main", "incentives", "statement", "--plan", str(plan_file),
                          "--events", str(path), "--rep", rep, "--period", period.text, "--target", "40000",
                          "--directory", str(ROOT / "config" / "directory.yaml")],
                         capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0, cli.stderr
    offline, online = json.loads(cli.stdout), s.to_dict()
    same = ("revenue", "target", "attainment", "commission", "lines")     # the team's part needs the targets' year
    assert {k: offline[k] for k in same} == {k: online[k] for k in same}
    assert [line["kind"] for line in online["lines"]] == ["order", "clawback", "order", "order", "late_reversal",
                                                          "order", "clawback"]
