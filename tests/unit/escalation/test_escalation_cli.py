"""`salespulse escalation simulate|route|check|token` as a user meets them."""

from __future__ import annotations

import json

import pytest

from agents.cli.main import main

EVENTS = [
    {"event_type": "incident", "occurred_at": "2026-11-02T10:00:00+00:00", "channel": "phone", "customer_id": "c1",
     "incident_key": "k1", "severity": "critical", "category": "product_safety", "title": "Charger smoking",
     "region": "north"},
    {"event_type": "incident", "occurred_at": "2026-11-02T10:05:00+00:00", "channel": "web", "customer_id": "c2",
     "incident_key": "k2", "severity": "high", "category": "delivery", "title": "Parcel late", "region": "south"},
    {"type": "ack", "incident_key": "k2", "by": "lead-south", "occurred_at": "2026-11-02T10:30:00+00:00"},
    {"type": "resolve", "incident_key": "k1", "by": "manager-north", "occurred_at": "2026-11-02T11:00:00+00:00"},
    {"type": "tick", "occurred_at": "2026-11-02T12:00:00+00:00"},
    {"event_type": "feedback", "occurred_at": "2026-11-02T10:00:00+00:00", "channel": "web", "customer_id": "c9",
     "text": "nice"},
]


def _write(tmp_path, rows, name="events.jsonl"):
    path = tmp_path / name
    path.write_text("\n".join(json.dumps(r) if isinstance(r, dict) else r for r in rows) + "\n")
    return path


def test_simulate_prints_every_notification_in_time_order(tmp_path, capsys):
    assert main(["escalation", "simulate", "--events", str(_write(tmp_path, EVENTS))]) == 0
    out, err = capsys.readouterr()
    lines = [json.loads(x) for x in out.splitlines()]
    got = [(x["at"][11:16], x["incident_key"], x["level"], x["level_name"], x["loop"], x["targets"]) for x in lines]
    assert got == [
        ("10:00", "k1", 2, "team_lead", 0, ["lead-north"]),
        ("10:00", "k1", 4, "director", 0, ["director"]),
        ("10:05", "k2", 1, "account_rep", 0, ["rep-3", "rep-4"]),
        ("10:20", "k2", 2, "team_lead", 0, ["lead-south"]),
        ("10:30", "k1", 3, "sales_manager", 0, ["manager-north"]),
    ]
    assert set(lines[0]) == {"at", "incident_key", "level", "level_name", "loop", "targets", "reason"}
    assert "skipped 1 events that are not incidents" in err


def test_simulate_runs_the_clock_until_nothing_is_pending(tmp_path, capsys):
    assert main(["escalation", "simulate", "--events", str(_write(tmp_path, EVENTS[1:2]))]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [(x["level"], x["loop"]) for x in lines] == [(lv, loop) for loop in (0, 1) for lv in (1, 2, 3, 4)]
    assert lines[-1]["at"] == "2026-11-02T15:35:00+00:00"


def test_an_ack_exactly_at_the_deadline_is_in_time(tmp_path, capsys):
    rows = [EVENTS[1], {"type": "ack", "incident_key": "k2", "by": "rep-3", "occurred_at": "2026-11-02T10:20:00Z"}]
    assert main(["escalation", "simulate", "--events", str(_write(tmp_path, rows))]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1


@pytest.mark.parametrize("rows,message", [
    (["{not json"], "events.jsonl line 1: not JSON"),
    (["[1]"], "line 1: expected a JSON object, got list"),
    ([{**EVENTS[0], "severity": "urgent"}], "line 1: incident.severity: Input should be 'critical'"),
    ([{"type": "snooze", "incident_key": "k"}], "line 1: unknown \"type\" 'snooze'"),
    ([{"type": "ack", "incident_key": "k1", "occurred_at": "2026-11-02T10:00:00Z"}], "line 1: by: Field required"),
    ([{"type": "tick", "occurred_at": "2026-11-02T10:00:00"}], "line 1: Input should have timezone info"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, rows, message):
    assert main(["escalation", "simulate", "--events", str(_write(tmp_path, rows))]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and message in err and "Traceback" not in err


def test_missing_files_and_bad_policy(tmp_path, capsys):
    assert main(["escalation", "simulate", "--events", str(tmp_path / "none.jsonl")]) == 2
    assert "cannot read: No such file or directory" in capsys.readouterr().err
    bad = tmp_path / "policy.yaml"
    bad.write_text("version: 1\nlevels: [\n")
    assert main(["escalation", "simulate", "--policy", str(bad), "--events", str(_write(tmp_path, EVENTS))]) == 2
    assert "invalid YAML" in capsys.readouterr().err


def test_route_prints_the_chain(capsys):
    assert main(["escalation", "route", "severity=critical", "region=north", "segment=Champions"]) == 0
    out = capsys.readouterr().out
    assert "route 9 (critical) + valuable customer (+1 level)" in out
    assert "at once  inform level 4 director: director" in out
    assert "loop 0  level 3 sales_manager: manager-north (ack within 60 min)" in out
    assert "loop 1  level 4 director" in out and "level 2" not in out


def test_route_json(capsys):
    assert main(["escalation", "route", "--json", "severity=medium", "region=west"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert [s["timeout_seconds"] for s in plan["steps"]] == [1800, 3600, 7200, 14400]


@pytest.mark.parametrize("args,message", [
    (["region=north"], "severity=... is required"),
    (["severity=high", "colour=red"], "unknown field 'colour'"),
    (["severity"], "expected FIELD=VALUE"),
    (["severity=high", "churn_risk=2"], "churn_risk: Input should be less than or equal to 1"),
])
def test_route_mistakes(capsys, args, message):
    assert main(["escalation", "route", *args]) == 2
    assert message in capsys.readouterr().err


def test_check_and_token(capsys):
    assert main(["escalation", "check"]) == 0
    assert capsys.readouterr().out.startswith("ok: 4 levels, 13 routes, 1 boosts")
    assert main(["escalation", "token"]) == 0
    out = capsys.readouterr().out.splitlines()
    token, digest = out[0].split()[-1], out[1].split()[-1]
    import hashlib
    assert hashlib.sha256(token.encode()).hexdigest() == digest
