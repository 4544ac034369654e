"""The scorecard core: attainment against base and stretch, pace, lower-is-better shares, conversion against the
team's median, and a leaderboard ranked by attainment (a small territory can lead)."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from agents.performance.metrics import RepMetrics, fold_followups, team_metrics
from agents.performance.scorecard import attainment, elapsed_share, leaderboard, line, scorecard, team_median_conversion
from agents.performance.targets import Target, parse_period

NOV = parse_period("2026-11")
MID_NOV = datetime(2026, 11, 16, tzinfo=timezone.utc)    # half of November gone


def rep(revenue="0", orders=0, reached=(0, 0, 0, 0, 0), **kw) -> RepMetrics:
    return RepMetrics(revenue=Decimal(revenue), orders=orders, reached=list(reached), **kw)


def test_revenue_attainment_pace_and_projection():
    card = scorecard("rep", "rep-1", "team-north", NOV, rep("6000", 3),
                     {"revenue": Target(Decimal(10000), Decimal(12000))}, MID_NOV)
    (ln,) = card.lines
    assert card.elapsed == 0.5 and card.attainment == 0.6
    assert ln.of_stretch == 0.5 and ln.expected == Decimal(5000) and ln.on_pace and ln.projected == Decimal(12000)
    d = card.to_dict()
    assert d["targets"][0]["actual"] == "6000.00" and d["figures"]["average_order_value"] == "2000.00"


def test_a_lower_is_better_share_beats_its_base_above_one():
    assert attainment("negative_feedback_share", 0.1, Decimal("0.2")) == 0.9 / 0.8
    assert attainment("negative_feedback_share", 0.3, Decimal("0.2")) < 1
    ln = line("negative_feedback_share", 0.1, Target(Decimal("0.2"), Decimal("0.1")), 0.5)
    assert ln.on_pace is True and ln.of_stretch == 1 and ln.expected is None
    assert line("conversion", None, Target(Decimal("0.2"), Decimal("0.3")), 0.5).on_pace is None


def test_pace_before_and_after_the_period():
    assert elapsed_share(NOV, datetime(2026, 10, 1, tzinfo=timezone.utc)) == 0
    assert elapsed_share(NOV, datetime(2027, 1, 1, tzinfo=timezone.utc)) == 1
    assert abs(elapsed_share(parse_period("2026-Q4"), datetime(2026, 11, 16, tzinfo=timezone.utc)) - 46 / 92) < 1e-9


def test_the_leaderboard_ranks_by_attainment_not_revenue():
    big = scorecard("rep", "rep-1", "team-north", NOV, rep("30000"), {"revenue": Target(Decimal(40000), Decimal(48000))}, MID_NOV)
    small = scorecard("rep", "rep-7", "team-west", NOV, rep("9000"), {"revenue": Target(Decimal(10000), Decimal(12000))}, MID_NOV)
    none = scorecard("rep", "rep-5", "team-east", NOV, rep("99999"), {}, MID_NOV)
    board = leaderboard([big, none, small])
    assert [r["rep"] for r in board] == ["rep-7", "rep-1", "rep-5"]
    assert board[0] == {"rank": 1, "rep": "rep-7", "team": "team-west", "attainment": 0.9, "revenue": "9000.00",
                        "target": "10000", "on_pace": True}


def test_conversion_per_stage_against_the_team_median():
    a = rep(reached=(10, 5, 4, 2, 1))
    b = rep(reached=(10, 8, 4, 4, 2))
    c = rep(reached=(10, 2, 2, 1, 1))
    med = team_median_conversion([a, b, c, rep()])      # a rep without opportunities is left out
    assert med["lead"] == 0.5 and med["negotiation"] == 0.5
    card = scorecard("rep", "rep-1", "team-north", NOV, a, {}, MID_NOV, med)
    assert card.conversion_vs_team["lead"] == {"rate": 0.5, "team_median": 0.5, "vs_median": 0.0}
    assert card.conversion_vs_team["qualified"]["team_median"] == 0.8
    behind = scorecard("rep", "rep-2", "team-north", NOV, c, {}, MID_NOV, med)
    assert behind.conversion_vs_team["lead"] == {"rate": 0.2, "team_median": 0.5, "vs_median": -0.3}


def test_the_revenue_port_replaces_the_kpi_figure_and_the_incentive_rides_along():
    card = scorecard("rep", "rep-1", None, NOV, rep("100", 1), {"revenue": Target(Decimal(1000), Decimal(1200))}, MID_NOV,
                     revenue=Decimal("800"), incentive={"total": "40.00"})
    assert card.attainment == 0.8 and card.to_dict()["incentive"] == {"total": "40.00"}


def test_follow_ups_and_team_sums():
    due = datetime(2026, 11, 10, tzinfo=timezone.utc)
    out: dict[str, RepMetrics] = {}
    fold_followups([("rep-1", "rep-1", due, due), ("rep-1", "rep-1", due, datetime(2026, 11, 11, tzinfo=timezone.utc)),
                    ("queue:north", "rep-2", due, None), ("rep-1", "rep-1", due, None)], out)
    assert (out["rep-1"].followups_due, out["rep-1"].followups_done, out["rep-1"].followups_on_time) == (3, 2, 1)
    assert out["rep-2"].followup_on_time == 0.0
    team = team_metrics(out, ["rep-1", "rep-2", "rep-9"])
    assert team.followups_due == 4 and team.followup_completion == 0.5


@given(st.integers(0, 10**9), st.integers(0, 10**9), st.integers(1, 10**9))
def test_attainment_grows_with_the_figure(a, b, base):
    lo, hi = sorted((a, b))
    assert attainment("revenue", lo, Decimal(base)) <= attainment("revenue", hi, Decimal(base))
    assert (attainment("revenue", lo, Decimal(base)) >= 1) == (lo >= base)
