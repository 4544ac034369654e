"""`salespulse scorecard show|check` as a user runs them (a real SQLite database); mistakes are one line, exit 2."""

from __future__ import annotations

import asyncio
import json

import pytest

from agents.cli.main import main


@pytest.fixture
def database(tmp_path, monkeypatch):
    from agents.customers.codec import to_us
    from agents.kpis.cells import ORDERS
    from agents.kpis.rollups import CELLS, cell_row
    from agents.performance.targets import parse_period
    from pipeline.db.engine import make_engine
    from pipeline.db.migrate import upgrade
    from pipeline.db.models import ReceivedEvent
    from schemas.events import OrderEvent
    from pipeline.settings import DatabaseSettings

    url = f"sqlite+aiosqlite:///{tmp_path}/cli.db"

    async def setup():
        engine = make_engine(DatabaseSettings(url=url))
        await upgrade(engine)
        b = to_us(parse_period("2026-11").start)
        # the KPI cells give the order counts; the revenue is the incentives' ledger's, from the order events
        paid = [OrderEvent.model_validate_json(json.dumps({
            "occurred_at": f"2026-11-0{2 + i}T10:00:00+00:00", "channel": "web", "customer_id": f"c{i}",
            "order_id": f"o{i}", "status": "paid", "amount": "5000", "currency": "USD", "sales_rep_id": "rep-1"}))
            for i in range(4)]
        async with engine.begin() as conn:
            await conn.execute(CELLS.insert(), [cell_row((ORDERS, "*", "month", b, "rep", "rep-1"),
                                                         [4, 20_000 * 10_000, 0, 4, 0, 0], 0, 1)])
            await conn.execute(ReceivedEvent.__table__.insert(), [
                {"event_id": str(e.event_id), "event_type": "order", "customer_id": e.customer_id, "channel": "web",
                 "occurred_at": e.occurred_at, "received_at": e.occurred_at, "topic": "orders", "partition": 0,
                 "offset": i, "payload": e.model_dump_json()} for i, e in enumerate(paid)])
        await engine.dispose()

    asyncio.run(setup())
    monkeypatch.setenv("SALESPULSE_DATABASE__URL", url)


def test_show_text_and_json(database, capsys):
    assert main(["scorecard", "show", "--rep", "rep-1", "--period", "2026-11", "--now", "2026-11-16T00:00:00+00:00"]) == 0
    text = capsys.readouterr().out
    assert "rep rep-1 (team team-north), 2026-11: 50.0% of the period gone, revenue attainment 50.0%" in text
    assert "orders" in text and "on pace" in text
    assert main(["scorecard", "show", "--team", "team-north", "--period", "2026-11", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [c["id"] for c in out["scorecards"]] == ["rep-1", "rep-2"] and out["teams"][0]["id"] == "team-north"
    assert out["leaderboard"][0] == {"rank": 1, "rep": "rep-1", "team": "team-north", "attainment": 0.5,
                                     "revenue": "20000.00", "target": "40000.00", "on_pace": out["leaderboard"][0]["on_pace"]}


@pytest.mark.parametrize("args, message", [
    (["--rep", "rep-99", "--period", "2026-11"], "error: no rep 'rep-99' in the directory"),
    (["--rep", "rep-1", "--period", "2026-13"], "error: --period: period must be a month (2026-11) or a quarter"),
    (["--period", "2026-11"], "error: give --rep or --team"),
])
def test_show_mistakes_are_one_line(database, capsys, args, message):
    assert main(["scorecard", "show", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


def test_check(tmp_path, capsys):
    assert main(["scorecard", "check", "config/scorecards.yaml"]) == 0
    bad = tmp_path / "s.yaml"
    bad.write_text("version: 1\ntargets:\n  - {owner: {rep: rep-1}, period: 2026-11, metric: orders, base: 5, stretch: 4}\n")
    assert main(["scorecard", "check", str(bad)]) == 2
    assert "s.yaml:3: targets.1.stretch: stretch 4 is below base 5" in capsys.readouterr().err
