"""`salespulse incentives statement|check` as a user runs them, on the committed example events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents.cli.main import main

ROOT = Path(__file__).resolve().parents[3]
EVENTS = ROOT / "tests" / "data" / "incentives" / "events.jsonl"
PLAN = ROOT / "config" / "incentives.yaml"


def statement(capsys, *args, events=EVENTS) -> tuple[int, dict | None, str]:
    code = main(["incentives", "statement", "--plan", str(PLAN), "--events", str(events), *args])
    out = capsys.readouterr()
    return code, json.loads(out.out) if out.out else None, out.err


def test_the_readme_statement(capsys):
    code, s, _ = statement(capsys, "--rep", "rep-1", "--period", "2026-11")
    assert code == 0
    assert {k: s[k] for k in ("rep", "period", "plan", "revenue", "target", "attainment", "commission", "team_bonus",
                              "total")} == {
        "rep": "rep-1", "period": "2026-11", "plan": "reps-2026", "revenue": "57000.00", "target": "40000.00",
        "attainment": "1.4250", "commission": "3540.00", "team_bonus": "300.00", "total": "3840.00"}
    kinds = [(line["kind"], line["order_id"]) for line in s["lines"]]
    assert kinds == [("order", "ord-A"), ("order", "ord-F"), ("late_reversal", "ord-F"), ("order", "ord-B"),
                     ("order", "ord-C"), ("clawback", "ord-C"), ("order", "ord-D"), ("order", "ord-E"),
                     ("clawback", "ord-E"), ("unconverted", "ord-H")]


def test_target_overrides_the_targets_file(capsys):
    code, s, _ = statement(capsys, "--rep", "rep-1", "--period", "2026-11", "--target", "100000")
    # 57,000 all in the first tier at 5%
    assert code == 0 and (s["target"], s["attainment"], s["commission"]) == ("100000.00", "0.5700", "2850.00")


def test_another_rep_and_a_quarter_plan(tmp_path, capsys):
    code, s, _ = statement(capsys, "--rep", "rep-2", "--period", "2026-11")
    assert code == 0 and (s["revenue"], s["commission"], s["total"]) == ("70000.00", "4840.00", "5140.00")
    quarterly = tmp_path / "q.yaml"
    quarterly.write_text(PLAN.read_text().replace("period: month", "period: quarter"))
    code = main(["incentives", "statement", "--plan", str(quarterly), "--events", str(EVENTS), "--rep", "rep-1",
                 "--period", "2026-Q4"])
    s = json.loads(capsys.readouterr().out)
    # October's ord-G joins; the target is Oct + Nov + Dec (9% + 10% + 12% of 400,000)
    assert code == 0 and (s["revenue"], s["target"]) == ("64000.00", "124000.00")


@pytest.mark.parametrize("args, message", [
    (["--rep", "rep-1", "--period", "2026-13"], "error: period must be a month (2026-11) or a quarter (2026-Q4), not '2026-13'"),
    (["--rep", "rep-1", "--period", "2026-Q4"], "error: no quarterly plan in"),
    (["--rep", "rep-1", "--period", "2026-11", "--target", "-5"], "error: --target '-5' must be an amount above 0"),
    (["--rep", "rep-9", "--period", "2026-11"], "error: no monthly plan in"),
    (["--rep", "rep-1", "--period", "2027-01"], "error: 'rep-1' has no revenue target for 2027-01"),
])
def test_user_mistakes_are_one_line(capsys, args, message):
    code, s, err = statement(capsys, *args)
    assert code == 2 and s is None and err.startswith(message) and err.count("\n") == 1


def test_an_undecodable_event_line_names_file_and_line(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(EVENTS.read_text().splitlines()[0] + "\n{\"event_type\": \"order\"}\n")
    code, s, err = statement(capsys, "--rep", "rep-1", "--period", "2026-11", events=bad)
    assert code == 2 and s is None and err.startswith(f"error: invalid event at {bad}:2: ") and err.count("\n") == 1


def test_check_accepts_the_shipped_plan_and_names_a_mistake(tmp_path, capsys):
    assert main(["incentives", "check", str(PLAN)]) == 0
    assert capsys.readouterr().out.endswith("incentives.yaml: 1 plan OK\n")
    broken = tmp_path / "incentives.yaml"
    broken.write_text(PLAN.read_text().replace("{from: 1.2, rate: 0.10}", "{from: 0.9, rate: 0.10}"))
    assert main(["incentives", "check", str(broken)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {broken}:17: plans.1.tiers.3.from: tier 3 starts at 0.9, not above tier 2's 1.0: tiers ascend\n"
