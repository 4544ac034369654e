"""`salespulse followups list|start|done|snooze|dismiss|replay` as a user runs them (a real SQLite database)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from agents.cli.main import main
from tests.support.factories import T0, make_order

NOW = datetime.now(timezone.utc)


def champion_events():
    events = [make_order(customer_id="champ", order_id=f"o{i}", occurred_at=T0 + timedelta(days=5 * i),
                         amount=Decimal("500.00")) for i in range(5)]
    events += [make_order(customer_id=f"small{c}", order_id=f"s{c}", occurred_at=T0, amount=Decimal("10.00"),
                          items=(), sales_rep_id=None, region="east") for c in range(4)]
    return events


def test_replay_prints_what_is_raised_and_escalated_by_now(tmp_path, capsys):
    path = tmp_path / "events.jsonl"
    path.write_text("".join(e.model_dump_json() + "\n" for e in champion_events()))
    assert main(["followups", "replay", str(path), "--now", "2026-12-01T00:00:00+00:00", "--sweep-every", "3600"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    # last order 2026-11-22 09:00, 5-day rhythm: silent from 11-27 09:00, raised at the hourly sweep after;
    # due 72 h later (config/followup.yaml lifecycle.due_hours.silent_valuable), escalated at the sweep after that
    assert [(x["customer_id"], x["reason"], x["owner"], x["due_at"], x["state"], x["event"]) for x in lines] == [
        ("champ", "silent_valuable", "rep-1", "2026-11-30T10:00:00+00:00", "open", "raised"),
        ("champ", "silent_valuable", "rep-1", "2026-11-30T10:00:00+00:00", "open", "escalated")]
    assert main(["followups", "replay", str(path), "--now", "2026-11-27T09:30:00+00:00", "--sweep-every", "3600"]) == 0
    assert capsys.readouterr().out == "", "nothing before the sweep after crossing"


def test_replay_mistakes_are_one_line(tmp_path, capsys):
    path = tmp_path / "events.jsonl"
    path.write_text("{not json\n")
    assert main(["followups", "replay", str(path), "--now", "2026-12-01T00:00:00"]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0


@pytest.fixture
def database(tmp_path, monkeypatch):
    from agents.followups.core import new_row
    from agents.followups import store
    from pipeline.db.engine import make_engine
    from pipeline.db.migrate import upgrade
    from pipeline.settings import DatabaseSettings
    from schemas.customers import FollowUpReason, FollowUpTask, stable_id
    from agents.escalation.directory import Directory
    from agents.escalation.policy import DEFAULT_DIRECTORY
    from pipeline.configfile import load_yaml

    url = f"sqlite+aiosqlite:///{tmp_path}/cli.db"

    async def setup():
        engine = make_engine(DatabaseSettings(url=url))
        await upgrade(engine)
        d = load_yaml(DEFAULT_DIRECTORY, Directory)
        async with engine.begin() as conn:
            for cid, owner, region in (("c-1", "rep-1", "north"), ("c-2", None, "south")):
                t = FollowUpTask(event_id=stable_id("cli", cid), occurred_at=NOW, customer_id=cid,
                                 reason=FollowUpReason.churn_risk, owner_rep_id=owner, churn_risk=0.8,
                                 total_spend=Decimal("10"), window_start=NOW, due_at=NOW, detail="d", region=region)
                await conn.execute(store.FOLLOWUPS.insert().values(**new_row(t, 0, d, 24)[1]))
        await engine.dispose()

    asyncio.run(setup())
    monkeypatch.setenv("SALESPULSE_DATABASE__URL", url)
    from schemas.customers import stable_id as sid

    return {"c-1": str(sid("cli", "c-1")), "c-2": str(sid("cli", "c-2"))}


def test_list_and_actions(database, capsys):
    assert main(["followups", "list", "--json"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert {(r["customer_id"], r["assignee"]) for r in rows} == {("c-1", "rep-1"), ("c-2", "queue:south")}
    assert main(["followups", "list", "--by", "rep-3", "--json"]) == 0   # south rep: the south queue
    assert [json.loads(x)["customer_id"] for x in capsys.readouterr().out.splitlines()] == ["c-2"]
    fid = database["c-1"]
    assert main(["followups", "done", fid, "--by", "rep-3"]) == 2
    assert "outside their scope" in capsys.readouterr().err
    assert main(["followups", "done", "nope", "--by", "rep-1"]) == 2
    assert "no follow-up 'nope'" in capsys.readouterr().err
    assert main(["followups", "snooze", fid, "--by", "rep-1", "--until", "2020-01-01T00:00:00+00:00"]) == 2
    assert "not in the future" in capsys.readouterr().err
    assert main(["followups", "done", fid, "--by", "rep-1"]) == 0
    assert capsys.readouterr().out.strip() == f"{fid}: done"
    assert main(["followups", "dismiss", fid, "--by", "rep-1", "--reason", "dup"]) == 2
    assert "cannot dismiss a follow-up that is done" in capsys.readouterr().err
    assert main(["followups", "dismiss", database["c-2"], "--by", "lead-south", "--reason", "moved away"]) == 0
    capsys.readouterr()
    assert main(["followups", "list"]) == 0
    assert capsys.readouterr().out.strip() == "no open follow-ups"
    assert main(["followups", "list", "--state", "dismissed", "--json"]) == 0
    assert [json.loads(x)["dismiss_reason"] for x in capsys.readouterr().out.splitlines()] == ["moved away"]
    assert main(["followups", "list", "--mine"]) == 2
