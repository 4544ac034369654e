"""config/scorecards.yaml: base and stretch per owner, period and metric; revenue from config/targets.yaml;
precise `file:line: key: message` errors for every mistake the loader checks."""

from __future__ import annotations

from decimal import Decimal

import pytest

from agents.escalation.directory import Directory
from agents.escalation.policy import DEFAULT_DIRECTORY
from agents.kpis.targets import load_targets
from agents.performance.targets import Target, load_scorecard_targets, parse_period
from pipeline.configfile import load_yaml
from pipeline.errors import ConfigError

DIRECTORY = load_yaml(DEFAULT_DIRECTORY, Directory)
GOOD = """\
version: 1
revenue_stretch_factor: 1.5
targets:
  - {owner: {rep: rep-1}, period: 2026-11, metric: orders, base: 40, stretch: 55}
  - {owner: {rep: rep-1}, period: 2026-12, metric: orders, base: 10}
  - {owner: {rep: rep-1}, period: 2026-10, metric: orders, base: 5, stretch: 6}
  - {owner: {rep: rep-1}, period: 2026-11, metric: negative_feedback_share, base: 0.2, stretch: 0.1}
  - {owner: {team: team-south}, period: 2026-Q4, metric: conversion, base: 0.2, stretch: 0.25}
  - {owner: {rep: rep-3}, period: 2026-11, metric: revenue, base: 1000}
"""


def load(tmp_path, text, directory=DIRECTORY):
    p = tmp_path / "scorecards.yaml"
    p.write_text(text)
    return load_scorecard_targets(p, load_targets(), directory)


def test_the_shipped_file_loads():
    assert load_scorecard_targets(revenue=load_targets(), directory=DIRECTORY).entries


def test_entries_quarter_sums_and_revenue_from_the_kpi_targets(tmp_path):
    t = load(tmp_path, GOOD)
    nov, q4 = parse_period("2026-11"), parse_period("2026-Q4")
    assert t.get("rep", "rep-1", nov, "orders") == Target(Decimal(40), Decimal(55))
    assert t.get("rep", "rep-1", parse_period("2026-12"), "orders") == Target(Decimal(10), Decimal(10))  # no stretch
    assert t.get("rep", "rep-1", q4, "orders") == Target(Decimal(55), Decimal(71))      # the months' sum
    assert t.get("rep", "rep-2", nov, "orders") is None
    assert t.get("rep", "rep-1", q4, "negative_feedback_share") is None                 # a share does not add up
    # revenue: config/targets.yaml's month (400,000 x 0.10), stretch x the factor; an entry overrides it
    assert t.get("rep", "rep-1", nov, "revenue") == Target(Decimal("40000.00"), Decimal("60000.00"))
    assert t.get("rep", "rep-3", nov, "revenue") == Target(Decimal(1000), Decimal("1500.00"))
    # the directory's team-north is targets.yaml's north; a quarter is the sum of its months
    assert t.get("team", "team-north", q4, "revenue").base == Decimal(1200000) * Decimal("0.31")
    assert t.get("team", "team-south", q4, "conversion") == Target(Decimal("0.2"), Decimal("0.25"))
    assert t.get("rep", "rep-1", parse_period("2027-01"), "revenue") is None


ENTRY = "  - {owner: {rep: rep-1}, period: 2026-11, metric: orders, base: 40, stretch: 55}\n"


@pytest.mark.parametrize("entry, expected", [
    ("  - {owner: {rep: rep-1}, period: 2026-11, metric: calls, base: 4}\n", ":5: targets.2.metric: Input should be"),
    ("  - {owner: {rep: rep-1}, period: 2026-13, metric: orders, base: 4}\n",
     ":5: targets.2.period: period must be a month (2026-11) or a quarter (2026-Q4), not '2026-13'"),
    ("  - {owner: {rep: rep-1}, period: 2026-10, metric: orders, base: many}\n",
     ":5: targets.2.base: Input should be a valid decimal"),
    ("  - {owner: {rep: rep-1}, period: 2026-10, metric: orders, base: 40, stretch: 30}\n",
     ":5: targets.2.stretch: stretch 30 is below base 40"),
    ("  - {owner: {rep: rep-1}, period: 2026-10, metric: negative_feedback_share, base: 0.1, stretch: 0.2}\n",
     ":5: targets.2.stretch: negative_feedback_share is better lower: stretch 0.2 must be at most base 0.1"),
    ("  - {owner: {rep: rep-1}, period: 2026-10, metric: conversion, base: 20}\n",
     ":5: targets.2.base: conversion is a share between 0 and 1, not 20"),
    ("  - {owner: {rep: rep-99}, period: 2026-10, metric: orders, base: 4}\n",
     ":5: targets.2.owner.rep: 'rep-99' is nobody in the directory"),
    ("  - {owner: {team: north}, period: 2026-10, metric: orders, base: 4}\n",
     ":5: targets.2.owner.team: no one in the directory is in team 'north'"),
    ("  - {owner: {rep: rep-1, team: team-north}, period: 2026-10, metric: orders, base: 4}\n",
     ":5: targets.2.owner: owner is {rep: ID} or {team: ID}, exactly one"),
    (ENTRY, ":5: targets.2: repeats the orders target of rep rep-1 for 2026-11 (entry 1)"),
])
def test_mistakes_name_file_line_and_key(tmp_path, entry, expected):
    with pytest.raises(ConfigError) as exc:
        load(tmp_path, "version: 1\nrevenue_stretch_factor: 1.2\ntargets:\n" + ENTRY + entry)
    assert "scorecards.yaml" + expected in str(exc.value)


def test_periods():
    q = parse_period("2026-Q4")
    assert q.months == (10, 11, 12) and q.end.year == 2027 and not q.is_month
    assert parse_period("2026-02").end.month == 3
    with pytest.raises(ValueError):
        parse_period("2026-Q5")
