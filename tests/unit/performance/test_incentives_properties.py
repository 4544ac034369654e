"""Properties of incentive statements over generated plans and orders: tiers, cap, clawback window, currencies."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from agents.performance.incentives import Plan, commission, statement
from pipeline.currency import Rates
from schemas.events import OrderStatus
from tests.support.factories import T0, make_order

D = Decimal
money = st.decimals(min_value=0, max_value=1_000_000, places=2)
positive = st.decimals(min_value=D("0.01"), max_value=1_000_000, places=2)
rate = st.decimals(min_value=0, max_value=1, places=4)


@st.composite
def plans(draw, clawback_days=st.integers(0, 90)):
    starts = sorted(set(draw(st.lists(st.decimals(min_value=D("0.01"), max_value=3, places=2), max_size=4))))
    tiers = [{"from": D(0), "rate": draw(rate)}] + [{"from": s, "rate": draw(rate)} for s in starts]
    return Plan.model_validate({"name": "p", "applies_to": {"role": "account_rep"}, "period": "month",
                                "tiers": tiers, "clawback_days": draw(clawback_days),
                                "cap": draw(st.none() | money)})


def paid(order: str, amount: Decimal, at=T0, currency="USD", **kw):
    return make_order(order_id=order, status=OrderStatus.paid, amount=amount, currency=currency, occurred_at=at, **kw)


USD = Rates(reporting_currency="USD")


@settings(max_examples=200, deadline=None)
@given(plans(), positive, money, money)
def test_commission_is_monotone_and_continuous_in_revenue(plan, target, a, b):
    low, high = sorted((a, b))
    c_low, c_high = commission(plan.tiers, target, low), commission(plan.tiers, target, high)
    top = max(t.rate for t in plan.tiers)
    assert 0 <= c_high - c_low <= top * (high - low)      # never falls; grows no faster than the top rate


@settings(max_examples=200, deadline=None)
@given(plans(), positive, st.data())
def test_each_tier_pays_exactly_its_rate_on_its_part(plan, target, data):
    i = data.draw(st.integers(0, len(plan.tiers) - 1))
    lo = plan.tiers[i].start * target
    hi = plan.tiers[i + 1].start * target if i + 1 < len(plan.tiers) else lo + 1_000_000
    x = data.draw(st.decimals(min_value=0, max_value=hi - lo, places=2))
    assert commission(plan.tiers, target, lo + x) - commission(plan.tiers, target, lo) == plan.tiers[i].rate * x


@settings(max_examples=150, deadline=None)
@given(plans(), positive, st.lists(positive, min_size=1, max_size=6))
def test_the_cap_bounds_the_commission_and_lines_add_up_before_it(plan, target, amounts):
    events = [paid(f"o{k}", a, T0 + timedelta(hours=k)) for k, a in enumerate(amounts)]
    s = statement(plan, events, "rep-1", "2026-11", target, USD)
    assert s.revenue == sum(amounts)
    assert s.commission_before_cap == commission(plan.tiers, target, s.revenue)
    assert sum(line["commission"] for line in s.lines) == s.commission_before_cap
    assert s.commission == (min(s.commission_before_cap, plan.cap) if plan.cap is not None else s.commission_before_cap)
    # the statement does not depend on the order events arrive in
    again = statement(plan, reversed(events), "rep-1", "2026-11", target, USD)
    assert again.to_dict() == s.to_dict()


@settings(max_examples=200, deadline=None)
@given(plans(), positive, positive, st.integers(0, 90), st.integers(-3, 3),
       st.sampled_from([OrderStatus.refunded, OrderStatus.cancelled]))
def test_a_reversal_reduces_the_payment_period_only_inside_the_window(plan, amount, back, days, nudge, status):
    delay = timedelta(days=plan.clawback_days) + timedelta(seconds=nudge) if days % 3 == 0 else timedelta(days=days)
    delay = max(delay, timedelta(seconds=1))     # a cancellation at or before payment voids the order instead
    events = [paid("o", amount), make_order(order_id="o", status=status, amount=back, currency="USD",
                                            occurred_at=T0 + delay)]
    s = statement(plan, events, "rep-1", "2026-11", D(1000), USD)
    inside = delay <= timedelta(days=plan.clawback_days)
    taken = (amount if status is OrderStatus.cancelled else min(back, amount)) if inside else 0
    assert s.revenue == amount - taken
    assert [line["kind"] for line in s.lines] == ["order", "clawback" if inside else "late_reversal"]


@settings(max_examples=150, deadline=None)
@given(plans(), positive, positive, st.decimals(min_value=D("0.01"), max_value=10, places=2))
def test_currencies_convert_before_the_tiers(plan, target, amount, eur):
    rates = Rates(reporting_currency="USD", rates=[{"currency": "EUR", "rate": eur, "from": "2026-01-01"}])
    in_eur = statement(plan, [paid("o", amount, currency="EUR")], "rep-1", "2026-11", target, rates)
    in_usd = statement(plan, [paid("o", amount * eur)], "rep-1", "2026-11", target, rates)
    assert in_eur.revenue == in_usd.revenue == amount * eur
    assert in_eur.commission == in_usd.commission
