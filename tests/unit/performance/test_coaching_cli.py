"""`salespulse coaching simulate|list|assign|done` as a user runs them: items from observations offline, and the
training tracked on a database, with one-line errors."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

from agents.cli.main import main
from agents.performance import coaching_store as store
from agents.performance.coaching import load_training, members_of
from agents.escalation.policy import load_policy
from pipeline.db.engine import make_engine
from pipeline.db.migrate import upgrade
from pipeline.settings import DatabaseSettings, PathsSettings

DAY0 = datetime(2026, 11, 2, 6, 0, tzinfo=timezone.utc)


def _observations(days, rep1=0.2):
    """rep-1 converting qualified deals at `rep1`, rep-2 (same team, north) at 0.5, for `days` days."""
    lines = []
    for d in range(days):
        at = (DAY0 + timedelta(days=d)).isoformat()
        lines += [{"at": at, "rep": "rep-1", "metric": "conversion_qualified", "value": rep1},
                  {"at": at, "rep": "rep-2", "metric": "conversion_qualified", "value": 0.5}]
    return "".join(json.dumps(x) + "\n" for x in lines)


def test_simulate_opens_one_item_after_the_configured_days(tmp_path, capsys):
    path = tmp_path / "obs.jsonl"
    path.write_text(_observations(7))
    assert main(["coaching", "simulate", "--observations", str(path)]) == 0
    [line] = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    # config/training.yaml: conversion_qualified, margin 0.10, for_days 5 -> the fifth day
    assert {k: line[k] for k in ("at", "event", "rep", "team", "metric", "topic", "value", "median")} == {
        "at": (DAY0 + timedelta(days=4)).isoformat(), "event": "opened", "rep": "rep-1", "team": "team-north",
        "metric": "conversion_qualified", "topic": "qualifying-leads", "value": 0.2, "median": 0.5}


def test_simulate_names_the_bad_line(tmp_path, capsys):
    path = tmp_path / "obs.jsonl"
    path.write_text(_observations(1) + '{"at": "2026-11-02", "rep": "rep-1", "metric": "m", "value": 1}\n')
    assert main(["coaching", "simulate", "--observations", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "obs.jsonl:3: at '2026-11-02' needs a timezone" in err
    path.write_text('{"at": "2026-11-02T00:00:00Z", "rep": "rep-1", "metric": "m", "value": "x"}\n')
    assert main(["coaching", "simulate", "--observations", str(path)]) == 2
    assert "obs.jsonl:1: value must be a number or null" in capsys.readouterr().err


def test_list_assign_done_on_a_database(tmp_path, capsys):
    url = f"sqlite+aiosqlite:///{tmp_path / 'sp.db'}"
    cfg = load_training()
    paths = PathsSettings()
    members = members_of(load_policy(paths.resolve("escalation_policy", "escalation.yaml"),
                                     paths.resolve("directory", "directory.yaml")).directory.people)

    async def seed():
        engine = make_engine(DatabaseSettings(url=url))
        await upgrade(engine)
        for d in range(5):
            await store.sweep(engine, cfg, members, DAY0 + timedelta(days=d),
                              {"rep-1": {"conversion_qualified": 0.2}, "rep-2": {"conversion_qualified": 0.5}})
        await engine.dispose()

    asyncio.run(seed())
    assert main(["coaching", "list", "--db", url, "--json"]) == 0
    [item] = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert (item["rep"], item["state"], item["topic"]) == ("rep-1", "open", "qualifying-leads")

    assert main(["coaching", "assign", item["id"], "--by", "rep-1", "--db", url]) == 2
    assert "rep-1 may not assign coaching item" in capsys.readouterr().err
    assert main(["coaching", "assign", item["id"], "--by", "lead-north", "--topic", "nope", "--db", url]) == 2
    assert "unknown topic 'nope'" in capsys.readouterr().err
    assert main(["coaching", "assign", item["id"], "--by", "lead-north", "--topic", "writing-proposals",
                 "--db", url]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["state"] == "assigned" and out["assignment"]["topic"] == "writing-proposals"
    assert out["assignment"]["before_value"] == 0.2
    assert main(["coaching", "done", item["id"], "--by", "rep-1", "--db", url]) == 0
    assert json.loads(capsys.readouterr().out)["assignment"]["state"] == "done"
    assert main(["coaching", "done", item["id"], "--by", "rep-1", "--db", url]) == 2
    assert "cannot mark done a coaching item that is done (it must be assigned)" in capsys.readouterr().err
    assert main(["coaching", "list", "--db", url]) == 0
    assert "no open coaching items" in capsys.readouterr().out
