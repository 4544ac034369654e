"""Incentive statements worked by hand: tiers, cap, clawback window, partial refunds, repeats, currencies, teams."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from agents.performance.incentives import IncentivesConfig, Plan, commission, events_window, parse_period, statement
from pipeline.currency import Rates
from pipeline.errors import UserInputError
from schemas.events import OrderStatus
from tests.support.factories import T0, make_order

USD = Rates(reporting_currency="USD", rates=[{"currency": "EUR", "rate": "1.10", "from": "2026-01-01"}])
PLAN = Plan.model_validate({
    "name": "reps", "applies_to": {"role": "account_rep"}, "period": "month", "metric": "revenue",
    "tiers": [{"from": 0.0, "rate": 0.05}, {"from": 1.0, "rate": 0.08}, {"from": 1.2, "rate": 0.10}],
    "cap": 5000, "clawback_days": 30, "team_bonus": {"threshold": 1.0, "amount": 300}})
D = Decimal


def paid(order: str, amount: str, days: float = 0, **kw):
    return make_order(order_id=order, status=OrderStatus.paid, amount=D(amount), currency="USD",
                      occurred_at=T0 + timedelta(days=days), **kw)


def back(order: str, status: OrderStatus, amount: str, days: float, **kw):
    return make_order(order_id=order, status=status, amount=D(amount), currency="USD",
                      occurred_at=T0 + timedelta(days=days), **kw)


def run(events, target="10000", plan=PLAN, **kw):
    return statement(plan, events, "rep-1", "2026-11", None if target is None else D(target), USD, **kw)


@pytest.mark.parametrize("revenue, expected", [
    ("0", "0"),
    ("5000", "250"),             # 5,000 x 5%
    ("10000", "500"),            # exactly at 100%: all of it at 5%
    ("11000", "580"),            # 500 + 1,000 x 8%
    ("12000", "660"),            # 500 + 2,000 x 8%
    ("15000", "960"),            # 500 + 160 + 3,000 x 10%
])
def test_marginal_tiers_by_hand(revenue, expected):
    s = run([paid("o", revenue)])
    assert s.revenue == D(revenue) and s.commission == D(expected)
    assert s.attainment == D(revenue) / 10000


def test_cap_limits_the_commission_not_the_revenue():
    s = run([paid("o", "100000")])            # 500 + 160 + 88,000 x 10% = 9,460
    assert (s.commission_before_cap, s.commission, s.revenue) == (D("9460"), D("5000"), D("100000"))
    assert s.to_dict()["total"] == "5000.00"


@pytest.mark.parametrize("days_after, counted", [(1, True), (29.99, True), (30, True), (30.0001, False), (45, False)])
def test_a_refund_claws_back_only_within_the_window_boundary_included(days_after, counted):
    s = run([paid("o", "8000", days=1), back("o", OrderStatus.refunded, "3000", 1 + days_after)])
    assert s.revenue == (D("5000") if counted else D("8000"))
    kinds = [line["kind"] for line in s.lines]
    assert kinds == ["order", "clawback" if counted else "late_reversal"]


def test_a_partial_refund_reduces_by_its_own_amount_and_refunds_stop_at_the_payment():
    s = run([paid("o", "8000"), back("o", OrderStatus.refunded, "3000", 2),
             back("o", OrderStatus.refunded, "9000", 3)])
    assert s.revenue == 0
    assert [line["amount"] for line in s.to_dict()["lines"][1:]] == ["-3000.00", "-5000.00"]


def test_a_cancellation_after_payment_takes_back_what_is_left():
    s = run([paid("o", "8000"), back("o", OrderStatus.refunded, "3000", 2), back("o", OrderStatus.cancelled, "8000", 4)])
    assert s.revenue == 0 and s.lines[-1]["amount"] == D("-5000")


def test_an_order_cancelled_before_it_was_paid_never_counts():
    s = run([back("o", OrderStatus.cancelled, "8000", 0), paid("o", "8000", days=1)])
    assert s.revenue == 0 and s.lines == ()


def test_an_order_paid_twice_and_a_redelivery_count_once():
    first = paid("o", "4000", days=1)
    s = run([first, first, paid("o", "4000", days=2), paid("p", "1000", days=3)])
    assert s.revenue == D("5000")
    assert [line["date"] for line in s.lines if line["order_id"] == "o"] == [first.occurred_at]


def test_a_refund_of_last_month_payment_does_not_touch_this_month():
    s = run([paid("old", "5000", days=-5), back("old", OrderStatus.refunded, "5000", 3), paid("o", "1000", days=3)])
    assert s.revenue == D("1000") and {line["order_id"] for line in s.lines} == {"o"}


def test_other_reps_and_other_statuses_are_not_revenue():
    s = run([paid("a", "1000", sales_rep_id="rep-2"), back("b", OrderStatus.created, "500", 1),
             back("c", OrderStatus.shipped, "500", 1), back("d", OrderStatus.invoiced, "500", 1), paid("e", "700")])
    assert s.revenue == D("700")


def test_currencies_convert_at_the_events_rate_before_the_tiers():
    s = run([make_order(order_id="o", status=OrderStatus.paid, amount=D("10000"), currency="EUR", occurred_at=T0)])
    assert s.revenue == D("11000.00") and s.commission == D("580")      # 500 + 1,000 x 8%
    assert s.lines[0]["paid"] == "10000.00 EUR"


def test_an_amount_no_rate_covers_is_shown_not_counted():
    s = run([make_order(order_id="o", status=OrderStatus.paid, amount=D("10000"), currency="CHF", occurred_at=T0)])
    assert s.revenue == 0 and s.lines[0]["kind"] == "unconverted" and s.lines[0]["amount"] == "10000.00 CHF"


def test_a_refund_no_rate_covers_is_shown_under_the_payment_it_would_reduce():
    s = run([paid("o", "1000"), make_order(order_id="o", status=OrderStatus.refunded, amount=D("50"), currency="CHF",
                                           occurred_at=T0 + timedelta(days=40))])
    assert s.revenue == D("1000") and [line["kind"] for line in s.lines] == ["order", "unconverted"]


def test_the_events_window_reaches_clawback_days_past_the_period():
    start, end = events_window(PLAN, parse_period("2026-11"))
    assert (start.isoformat(), end.isoformat()) == ("2026-11-01T00:00:00+00:00", "2026-12-31T00:00:00+00:00")


def test_order_lines_split_over_tiers_and_add_up_to_the_commission():
    s = run([paid("a", "9000"), paid("b", "4000", days=1)])
    b = s.lines[1]
    assert b["tier"] == 1 and [(x["tier"], x["amount"]) for x in b["spans"]] == [(1, D(1000)), (2, D(2000)), (3, D(1000))]
    # 10,000 x 5% + 2,000 x 8% + 1,000 x 10%
    assert sum(line["commission"] for line in s.lines) == s.commission == D("760")


def test_team_bonus_when_the_team_reaches_threshold_times_its_target():
    events = [paid("a", "6000"), paid("b", "5000", sales_rep_id="rep-2")]
    assert run(events, team_reps=["rep-1", "rep-2"], team_target=D("11000")).team_bonus == D("300")
    short = run(events, team_reps=["rep-1", "rep-2"], team_target=D("11000.01"))
    assert short.team_bonus == 0 and short.team_revenue == D("11000")
    assert run(events, team_reps=["rep-2"], team_target=D("1")).team_bonus == 0     # not a member


def test_without_a_target_there_is_no_commission_but_the_statement_stands():
    s = run([paid("a", "6000")], target=None)
    assert s.commission is None and s.attainment is None and s.to_dict()["total"] is None and s.revenue == 6000


def test_quarters_and_period_mismatch():
    q = parse_period("2026-Q4")
    assert q.months == (10, 11, 12) and q.end.year == 2027
    quarterly = PLAN.model_copy(update={"period": "quarter"})
    assert statement(quarterly, [paid("a", "6000")], "rep-1", "2026-Q4", D(1), USD).revenue == 6000
    with pytest.raises(UserInputError, match="pays per month"):
        statement(PLAN, [], "rep-1", "2026-Q4", D(1), USD)
    with pytest.raises(UserInputError, match="must be a month"):
        parse_period("2026-13")


def test_commission_helper_matches_the_statement():
    assert commission(PLAN.tiers, D(10000), D(15000)) == D(960)
    assert IncentivesConfig(reporting_currency="USD", plans=[PLAN]).plans[0] is not None
