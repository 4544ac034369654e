"""`salespulse signals replay`: what would fire by --now, classification included; user mistakes in one line."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from agents.cli.main import main
from tests.support.signal_events import KETTLE, spike

START = datetime(2026, 3, 2, tzinfo=timezone.utc)


def write_events(tmp_path, events) -> str:
    p = tmp_path / "events.jsonl"
    p.write_text("".join(e.model_dump_json() + "\n" for e in events))
    return str(p)


def test_replay_prints_the_spike_once_per_subject(tmp_path, capsys):
    path = write_events(tmp_path, spike(START))
    assert main(["signals", "replay", path, "--now", (START + timedelta(days=2)).isoformat()]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert sorted((x["signal"], x["subject"]) for x in lines) == [
        ("complaint_rate", "category:kitchen"), ("complaint_rate", "region:north"), ("complaint_rate", f"sku:{KETTLE}")]
    sku = next(x for x in lines if x["subject"] == f"sku:{KETTLE}")
    assert sku["severity"] == "high" and sku["window_start"] == "2026-03-03T02:00:00+00:00"
    assert set(sku["evidence"]) >= {"count", "baseline_count", "expected", "ratio", "p_value"}
    assert sku["evidence"]["count"] >= 8 and sku["evidence"]["region"] == "north"
    assert datetime.fromisoformat(sku["at"]) > START + timedelta(hours=26)


def test_nothing_fires_before_the_spike_happened(tmp_path, capsys):
    path = write_events(tmp_path, spike(START))
    assert main(["signals", "replay", path, "--now", (START + timedelta(hours=26)).isoformat()]) == 0
    assert capsys.readouterr().out == ""


def test_pace_is_judged_at_now(tmp_path, capsys):
    # no orders for any rep by the 20th: every team and rep with a target is behind
    path = write_events(tmp_path, spike(START, hours=2, burst=0))
    assert main(["signals", "replay", path, "--now", "2026-03-20T12:00:00+00:00"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert {x["subject"] for x in lines if x["signal"] == "target_pace"} >= {"team:north", "rep:rep-1"}
    assert all(x["at"] == "2026-03-20T12:00:00+00:00" for x in lines)


def test_user_mistakes_are_one_line(tmp_path, capsys):
    path = write_events(tmp_path, spike(START, hours=1))
    assert main(["signals", "replay", path, "--now", "yesterday"]) == 2
    err = capsys.readouterr().err
    assert "--now 'yesterday' is not an ISO 8601 date-time" in err and "Traceback" not in err
    bad = tmp_path / "signals.yaml"
    bad.write_text("version: 1\ncomplaints:\n  min_ratio: 0.5\n")
    assert main(["signals", "replay", path, "--now", START.isoformat(), "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "signals.yaml:3: complaints.min_ratio: Input should be greater than 1" in err
    assert main(["signals", "replay", str(tmp_path / "none.jsonl"), "--now", START.isoformat()]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_invalid_lines_are_reported_and_skipped(tmp_path, capsys):
    p = tmp_path / "events.jsonl"
    p.write_text('{"event_type": "feedback"}\n')
    assert main(["signals", "replay", str(p), "--now", START.isoformat()]) == 1
    assert ":1:" in capsys.readouterr().err
