"""targets.yaml: yearly-to-monthly breakdown, attainment and pace, and precise loading errors."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from agents.kpis import KpiState, Rates, apply_order, kpi_snapshots, load_targets
from pipeline.errors import ConfigError
from tests.support.factories import make_order

GOOD = """
version: 1
year: 2026
currency: EUR
teams:
  north:
    yearly_target: 120000
    reps:
      rep-1: {yearly_target: 60000}
      rep-2: {yearly_target: 60000, monthly_weights: [0.2, 0.2, 0.2, 0.2, 0.2, 0, 0, 0, 0, 0, 0, 0]}
"""


def write(tmp_path, text):
    p = tmp_path / "targets.yaml"
    p.write_text(text)
    return p


def test_breakdown_and_attainment_with_pace(tmp_path):
    targets = load_targets(write(tmp_path, GOOD))
    assert targets.monthly("rep", "rep-1", 2026, 3) == Decimal("5000.00")
    assert targets.monthly("rep", "rep-2", 2026, 3) == Decimal("12000.00")
    assert targets.monthly("rep", "rep-2", 2026, 7) == Decimal("0.00")
    assert targets.monthly("team", "north", 2025, 3) is None
    s = KpiState(Rates(reporting_currency="EUR"), targets.rep_team)   # the targets' currency: amounts as they are
    apply_order(s, make_order(occurred_at=datetime(2026, 3, 3, tzinfo=timezone.utc), amount=Decimal("2500"),
                              sales_rep_id="rep-1"))
    now = datetime(2026, 3, 16, 12, tzinfo=timezone.utc)          # half of March gone
    snap = kpi_snapshots(s, "month", now, targets)[0]
    rows = {(t.kind, t.id): t for t in snap.targets}
    rep = rows[("rep", "rep-1")]
    assert rep.team == "north" and rep.actual == Decimal("2500.00") and rep.attainment == 0.5
    assert rep.elapsed == 0.5 and rep.pace == 1.0 and rep.on_track
    team = rows[("team", "north")]
    assert team.target == Decimal("10000.00") and team.attainment == 0.25 and not team.on_track
    assert {(r.dimension, r.value) for r in snap.rows} >= {("team", "north"), ("rep", "rep-1")}


def test_shipped_targets_load():
    t = load_targets()
    assert t.rep_team["rep-3"] == "south"


def test_shipped_targets_are_in_the_shipped_reporting_currency():
    from agents.kpis import load_rates

    assert load_targets(reporting_currency=load_rates().reporting_currency).currency == "USD"


def test_targets_in_another_currency_than_the_reports_are_refused(tmp_path):
    path = write(tmp_path, GOOD)
    with pytest.raises(ConfigError) as exc:
        load_targets(path, reporting_currency="USD")
    assert str(exc.value) == (f"{path}:4: currency: targets are in EUR but the KPIs report in USD "
                              f"(config/currencies.yaml): give them in USD")


@pytest.mark.parametrize("text,fragment", [
    (GOOD.replace("rep-2: {", "rep-1: {"), None),   # duplicate YAML key: last wins, still valid
    (GOOD + "  south:\n    yearly_target: 5\n    reps:\n      rep-1: {yearly_target: 1}\n",
     "rep 'rep-1' is in teams 'north' and 'south'"),
    (GOOD.replace("yearly_target: 120000", "yearly_target: -5"), "teams.north.yearly_target"),
    (GOOD.replace("0.2, 0.2, 0.2, 0.2, 0.2, 0,", "0.2, 0.2,"), "teams.north.reps.rep-2.monthly_weights: needs 12 monthly weights, got 8"),
    (GOOD.replace("[0.2, 0.2", "[0.3, 0.2"), "must sum to 1"),
    (GOOD.replace("currency: EUR", "currency: euro"), "currency"),
    (GOOD.replace("year: 2026", "yeer: 2026"), "yeer: Extra inputs"),
])
def test_loading_errors_are_precise(tmp_path, text, fragment):
    path = write(tmp_path, text)
    if fragment is None:
        load_targets(path)
        return
    with pytest.raises(ConfigError) as exc:
        load_targets(path)
    assert fragment in str(exc.value) and str(path) in str(exc.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_targets(tmp_path / "nope.yaml")
