"""config/incentives.yaml: the shipped file loads; each mistake is one line naming file, line and key; plan_for."""

from __future__ import annotations

from decimal import Decimal

import pytest

from agents.escalation.directory import Directory
from agents.performance.incentives import DEFAULT_PATH, load_plans, plan_for
from pipeline.configfile import load_yaml
from pipeline.errors import ConfigError

DIRECTORY = load_yaml(DEFAULT_PATH.parent / "directory.yaml", Directory)
GOOD = """\
reporting_currency: USD
plans:
  - name: reps
    applies_to: {role: account_rep}
    period: month
    metric: revenue
    tiers:
      - {from: 0.0, rate: 0.05}
      - {from: 1.0, rate: 0.08}
    cap: 5000
    clawback_days: 30
    team_bonus: {threshold: 1.0, amount: 300}
"""


def write(tmp_path, text: str):
    p = tmp_path / "incentives.yaml"
    p.write_text(text)
    return p


def test_the_shipped_plans_load_against_the_directory_and_currencies():
    cfg = load_plans(DEFAULT_PATH, reporting_currency="USD", directory=DIRECTORY)
    plan = cfg.plans[0]
    assert (plan.name, plan.applies_to.role, plan.period, plan.clawback_days) == ("reps-2026", "account_rep", "month", 30)
    assert [(t.start, t.rate) for t in plan.tiers] == [(Decimal("0.0"), Decimal("0.05")), (Decimal("1.0"), Decimal("0.08")),
                                                       (Decimal("1.2"), Decimal("0.10"))]
    assert plan.cap == 5000 and plan.team_bonus.amount == 300


@pytest.mark.parametrize("old, new, message", [
    ("{from: 0.0, rate: 0.05}", "{from: 0.1, rate: 0.05}", ":8: plans.1.tiers.1.from: the first tier must start at 0"),
    ("{from: 1.0, rate: 0.08}", "{from: 0.0, rate: 0.08}", ":9: plans.1.tiers.2.from: tier 2 starts at 0.0, not above"),
    ("{role: account_rep}", "{role: account_rep, team: north}", ":4: plans.1.applies_to: give exactly one of"),
    ("period: month", "period: week", ":5: plans.1.period: Input should be 'month' or 'quarter'"),
    ("metric: revenue", "metric: orders", ":6: plans.1.metric: Input should be 'revenue'"),
    ("rate: 0.08", "rate: 1.5", ":9: plans.1.tiers.2.rate: Input should be less than or equal to 1"),
    ("cap: 5000", "cap: -1", ":10: plans.1.cap: Input should be greater than or equal to 0"),
    ("clawback_days: 30", "clawback_days: soon", ":11: plans.1.clawback_days: Input should be a valid integer"),
    ("reporting_currency: USD", "reporting_currency: ABC", ":1: reporting_currency: unknown currency code"),
    ("    cap: 5000\n", "    cap: 5000\n    bonus: 1\n", ":11: plans.1.bonus: Extra inputs are not permitted"),
])
def test_each_mistake_names_file_line_and_key(tmp_path, old, new, message):
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(ConfigError) as err:
        load_plans(path)
    assert f"{path}{message}" in str(err.value)


@pytest.mark.parametrize("old, new, message", [
    ("{role: account_rep}", "{role: acount_rep}", ":4: plans.1.applies_to.role: plan 'reps' applies to role 'acount_rep'"),
    ("{role: account_rep}", "{person: rep-9}", ":4: plans.1.applies_to.person: plan 'reps' applies to 'rep-9'"),
    ("{role: account_rep}", "{team: centre}", ":4: plans.1.applies_to.team: plan 'reps' applies to team 'centre'"),
])
def test_applies_to_is_checked_against_the_directory(tmp_path, old, new, message):
    path = write(tmp_path, GOOD.replace(old, new, 1))
    load_plans(path)            # fine without a directory
    with pytest.raises(ConfigError) as err:
        load_plans(path, directory=DIRECTORY)
    assert f"{path}{message}" in str(err.value)


def test_the_plans_must_be_in_the_reporting_currency(tmp_path):
    with pytest.raises(ConfigError, match=r":1: reporting_currency: plans are in USD but revenue is reported in EUR"):
        load_plans(write(tmp_path, GOOD), reporting_currency="EUR")


def test_two_plans_for_the_same_people_and_period_are_refused(tmp_path):
    second = GOOD.split("plans:\n")[1].replace("name: reps", "name: reps-again")
    with pytest.raises(ConfigError, match=r":14: plans.2.applies_to: plans 1 and 2 both apply to role 'account_rep'"):
        load_plans(write(tmp_path, GOOD + second))
    again = GOOD.split("plans:\n")[1].replace("period: month", "period: quarter")
    with pytest.raises(ConfigError, match=r":13: plans.2.name: plan 2 repeats the name 'reps'"):
        load_plans(write(tmp_path, GOOD + again))


def test_plan_for_prefers_the_person_then_the_team_then_the_role(tmp_path):
    extra = "".join(GOOD.split("plans:\n")[1].replace("name: reps", f"name: {n}").replace("{role: account_rep}", who)
                    for n, who in (("north", "{team: north}"), ("rep-3", "{person: rep-3}")))
    cfg = load_plans(write(tmp_path, GOOD + extra), directory=DIRECTORY)
    assert plan_for(cfg, "rep-3", "account_rep", "team-south").name == "rep-3"
    assert plan_for(cfg, "rep-1", "account_rep", "team-north").name == "north"      # directory spelling of north
    assert plan_for(cfg, "rep-1", "account_rep", "north").name == "north"
    assert plan_for(cfg, "rep-4", "account_rep", "team-south").name == "reps"
    assert plan_for(cfg, "lead", "team_lead", "team-south") is None
    assert plan_for(cfg, "rep-4", "account_rep", "team-south", period="quarter") is None
