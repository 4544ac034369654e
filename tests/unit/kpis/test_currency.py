"""Currencies: rates by validity date, KPIs in the reporting currency, amounts without a rate kept apart,
and the precise messages of a bad currencies file."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st
from prometheus_client import CollectorRegistry

from agents.kpis import KpiState, Rates, apply_funnel, apply_order, apply_spend, kpi_snapshots, load_rates
from agents.kpis.agent import Kpis
from agents.kpis.targets import TargetsConfig
from pipeline.errors import ConfigError
from pipeline.metrics import Metrics
from schemas.events import FunnelStage, OrderStatus
from tests.support.factories import make_funnel, make_order, make_spend
from tests.unit.kpis.test_kpi_properties import APPLY, histories

RATES = Rates(reporting_currency="USD", rates=(
    {"currency": "EUR", "rate": Decimal("1.08"), "from": date(2026, 1, 1)},
    {"currency": "EUR", "rate": Decimal("1.10"), "from": date(2026, 7, 1)},
    {"currency": "JPY", "rate": Decimal("0.0067"), "from": date(2026, 1, 1)},
))


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def total(s: KpiState, now=utc(2026, 12, 1)):
    return kpi_snapshots(s, "total", now)[0]


def row(snap, dim="all", value="*"):
    return next(r for r in snap.rows if (r.dimension, r.value) == (dim, value))


# ---- Rates.convert ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("currency,at,expected", [
    ("EUR", utc(2026, 1, 1), Decimal("108.00")),                 # the first day of a rate
    ("EUR", utc(2026, 6, 30, 23, 59, 59), Decimal("108.00")),    # the last moment before the next
    ("EUR", utc(2026, 7, 1), Decimal("110.00")),
    ("EUR", utc(2031, 3, 1), Decimal("110.00")),                 # the latest rate holds on
    ("EUR", datetime(2026, 7, 1, 1, tzinfo=timezone(timedelta(hours=2))), Decimal("108.00")),  # UTC date: June 30
    ("EUR", utc(2025, 12, 31, 23, 59), None),                    # before the first rate
    ("JPY", utc(2026, 3, 1), Decimal("0.6700")),
    ("USD", utc(1999, 1, 1), Decimal("100")),                    # the reporting currency: 1, always
    ("CNY", utc(2026, 3, 1), None),                              # not in the file
])
def test_the_rate_valid_at_the_time_is_the_latest_from_on_or_before_its_date(currency, at, expected):
    assert RATES.convert(Decimal("100"), currency, at) == expected


def test_conversion_is_exact():
    assert RATES.convert(Decimal("0.0001"), "JPY", utc(2026, 3, 1)) == Decimal("0.00000067")
    assert RATES.convert(Decimal("999999999999.9999"), "JPY", utc(2026, 3, 1)) == Decimal("6699999999.99999933")


# ---- KPIs in the reporting currency ----------------------------------------------------------------------

def test_euros_and_yen_are_converted_never_added_raw():
    s = KpiState(RATES)
    apply_order(s, make_order(order_id="o1", amount=Decimal("100"), currency="EUR", occurred_at=utc(2026, 3, 1)))
    apply_order(s, make_order(order_id="o2", amount=Decimal("10000"), currency="JPY", occurred_at=utc(2026, 3, 2)))
    snap = total(s)
    everything = row(snap)
    assert snap.currency == "USD"
    assert everything.revenue != Decimal("10100")
    assert (everything.orders, everything.revenue, everything.average_order_value) == (
        2, Decimal("175.00"), Decimal("87.50"))                  # 108 + 67
    assert snap.unconverted == ()


def test_an_order_at_its_payment_rate_and_a_refund_at_the_rate_of_its_own_time():
    s = KpiState(RATES)
    apply_order(s, make_order(order_id="o1", amount=Decimal("100"), occurred_at=utc(2026, 6, 15)))
    apply_order(s, make_order(order_id="o1", status=OrderStatus.refunded, amount=Decimal("50"),
                              occurred_at=utc(2026, 7, 10)))
    june = kpi_snapshots(s, "month", utc(2026, 12, 1), only=utc(2026, 6, 1))[0]
    r = row(june)
    assert (r.gross_revenue, r.refunds, r.revenue) == (Decimal("108.00"), Decimal("55.00"), Decimal("53.00"))
    assert row(total(s)).revenue == Decimal("53.00")


def test_campaign_spend_is_converted_at_its_occurred_at():
    s = KpiState(RATES)
    apply_order(s, make_order(order_id="o1", amount=Decimal("100"), campaign_id="spring-sale",
                              occurred_at=utc(2026, 7, 2)))                       # 110 USD
    apply_spend(s, make_spend(amount=Decimal("50"), occurred_at=utc(2026, 6, 30),  # 54 USD
                              period_start=utc(2026, 6, 1), period_end=utc(2026, 6, 30)))
    c = total(s).campaigns[0]
    assert (c.spend, c.attributed_revenue, c.roi) == (Decimal("54.00"), Decimal("110.00"), round(56 / 54, 4))


def test_an_amount_without_a_rate_is_kept_apart_per_currency_and_shown():
    s = KpiState(RATES)
    apply_order(s, make_order(order_id="o1", amount=Decimal("100"), occurred_at=utc(2026, 3, 1),
                              campaign_id="spring-sale"))
    apply_order(s, make_order(order_id="o2", amount=Decimal("500"), currency="CNY", occurred_at=utc(2026, 3, 1),
                              campaign_id="spring-sale"))
    apply_order(s, make_order(order_id="o2", status=OrderStatus.refunded, amount=Decimal("20"), currency="CNY",
                              occurred_at=utc(2026, 3, 5)))
    apply_order(s, make_order(order_id="o3", amount=Decimal("70"), occurred_at=utc(2025, 12, 1)))  # EUR before its first rate
    apply_spend(s, make_spend(amount=Decimal("10"), currency="CNY", occurred_at=utc(2026, 3, 1),
                              period_start=utc(2026, 3, 1), period_end=utc(2026, 3, 2)))
    apply_spend(s, make_spend(amount=Decimal("54"), currency="USD", occurred_at=utc(2026, 3, 1),
                              period_start=utc(2026, 3, 1), period_end=utc(2026, 3, 2)))
    snap = total(s)
    everything = row(snap)
    assert (everything.orders, everything.revenue, everything.average_order_value) == (
        1, Decimal("108.00"), Decimal("108.00"))
    c = snap.campaigns[0]
    assert (c.orders, c.spend, c.attributed_revenue, c.roi) == (1, Decimal("54.00"), Decimal("108.00"), 1.0)
    apart = {u.currency: u for u in snap.unconverted}
    assert set(apart) == {"CNY", "EUR"}
    cny = apart["CNY"]
    assert (cny.orders, cny.gross_revenue, cny.refunds, cny.revenue, cny.spend) == (
        1, Decimal("500.00"), Decimal("20.00"), Decimal("480.00"), Decimal("10.00"))
    assert (apart["EUR"].orders, apart["EUR"].revenue) == (1, Decimal("70.00"))
    dec = kpi_snapshots(s, "month", utc(2026, 12, 1), only=utc(2025, 12, 1))[0]
    assert dec.rows == () and [u.currency for u in dec.unconverted] == ["EUR"]   # in its own window


def test_redelivery_changes_nothing_and_the_stored_form_keeps_what_was_kept_apart():
    s = KpiState(RATES)
    events = [make_order(order_id="o1", amount=Decimal("100"), occurred_at=utc(2026, 3, 1)),
              make_order(order_id="o2", amount=Decimal("500"), currency="CNY", occurred_at=utc(2026, 3, 1)),
              make_spend(amount=Decimal("10"), currency="CNY", occurred_at=utc(2026, 3, 1))]
    for e in events:
        APPLY[e.event_type](s, e)
    before = total(s).model_dump(exclude={"event_id"})
    assert not any(APPLY[e.event_type](s, e) for e in events)
    restored = KpiState.from_dict(json.loads(json.dumps(s.to_dict())), RATES)
    assert total(restored).model_dump(exclude={"event_id"}) == before == total(s).model_dump(exclude={"event_id"})


MIXED = Rates(reporting_currency="USD", rates=(
    {"currency": "EUR", "rate": Decimal("1.08"), "from": date(2026, 11, 1)},
    {"currency": "EUR", "rate": Decimal("1.1"), "from": date(2026, 11, 10)},   # changes inside the histories
    {"currency": "JPY", "rate": Decimal("0.0067"), "from": date(2026, 11, 1)},
))


@settings(max_examples=80, deadline=None)
@given(histories(), st.randoms(use_true_random=False), st.data())
def test_with_several_currencies_order_and_redeliveries_still_do_not_matter(events, rnd, data):
    events = [e.model_copy(update={"currency": data.draw(st.sampled_from(["EUR", "JPY", "CNY", "USD"]))})
              if hasattr(e, "currency") else e for e in events]

    def run(evs, split_at=None):
        s = KpiState(MIXED)
        for i, e in enumerate(evs):
            if i == split_at:
                s = KpiState.from_dict(json.loads(json.dumps(s.to_dict())), MIXED)
            APPLY[e.event_type](s, e)
        return [x.model_dump(exclude={"event_id"}) for g in ("day", "total") for x in kpi_snapshots(s, g, utc(2027, 1, 1))]

    expected = run(events)
    shuffled = list(events) + data.draw(st.lists(st.sampled_from(events), max_size=8))
    rnd.shuffle(shuffled)
    assert run(shuffled, split_at=data.draw(st.integers(0, len(shuffled)))) == expected


def test_the_unconverted_metric_counts_paid_and_refunded_amounts_and_spend_per_currency():
    metrics = Metrics(CollectorRegistry())
    u = Kpis(type("Rt", (), {"metrics": metrics})(), RATES, TargetsConfig(year=2026, currency="USD", teams={}))
    meta = type("Meta", (), {"partition": 0})()

    async def go():
        await u.on_order(make_order(amount=Decimal("500"), currency="CNY", occurred_at=utc(2026, 3, 1)), meta)
        await u.on_order(make_order(status=OrderStatus.shipped, amount=Decimal("500"), currency="CNY",
                                    occurred_at=utc(2026, 3, 2)), meta)        # repeats the total: not counted
        await u.on_order(make_order(status=OrderStatus.refunded, amount=Decimal("20"), currency="CNY",
                                    occurred_at=utc(2026, 3, 3)), meta)
        await u.on_order(make_order(amount=Decimal("100"), occurred_at=utc(2026, 3, 1)), meta)  # converted
        await u.on_spend(make_spend(amount=Decimal("7"), currency="QQQ", occurred_at=utc(2026, 3, 1)), meta)

    asyncio.run(go())
    value = lambda cur: metrics.registry.get_sample_value(  # noqa: E731
        "salespulse_kpi_unconverted_amount_total", {"currency": cur})
    assert value("CNY") == 520 and value("EUR") is None
    assert value("other") == 7                                 # not an ISO 4217 code: a bounded label


# ---- the funnel's campaign dimension ---------------------------------------------------------------------

def test_funnel_conversion_per_campaign():
    s = KpiState(RATES)
    paths = {("p1", "spring"): ["lead", "qualified", "won"], ("p2", "spring"): ["lead"],
             ("p3", "autumn"): ["lead", "qualified"], ("p4", None): ["lead", "won"]}
    for (opp, campaign), stages in paths.items():
        for i, stage in enumerate(stages):
            apply_funnel(s, make_funnel(opportunity_id=opp, campaign_id=campaign, stage=FunnelStage(stage),
                                        occurred_at=utc(2026, 3, 1, i)))
    rows = {(f.dimension, f.value): f for f in total(s).funnel}
    assert rows[("campaign", "spring")].reached["lead"] == 2 and rows[("campaign", "spring")].overall_conversion == 0.5
    assert rows[("campaign", "autumn")].conversion["lead"] == 1.0 and rows[("campaign", "autumn")].reached["won"] == 0
    assert rows[("all", "*")].reached["lead"] == 4
    assert not any(dim == "campaign" and val is None for dim, val in rows)


# ---- the currencies file -----------------------------------------------------------------------------------

GOOD = """\
reporting_currency: USD
rates:                     # 1 unit of `currency` = `rate` units of the reporting currency, from `from` on
  - {currency: EUR, rate: 1.08, from: 2026-01-01}
  - {currency: EUR, rate: 1.10, from: 2026-07-01}
  - {currency: JPY, rate: 0.0067, from: 2026-01-01}
"""


def write(tmp_path, text):
    p = tmp_path / "currencies.yaml"
    p.write_text(text)
    return p


def test_the_format_finance_generates_loads_with_exact_rates(tmp_path):
    rates = load_rates(write(tmp_path, GOOD))
    assert rates == RATES
    assert rates.rate("JPY", utc(2026, 1, 1)) == Decimal("0.0067")    # not the float's binary value


def test_the_shipped_file_covers_the_usual_currencies():
    rates = load_rates()
    assert rates.reporting_currency == "USD"
    for cur in ("USD", "EUR", "CNY", "JPY", "GBP"):
        assert rates.convert(Decimal(1), cur, utc(2026, 11, 2)) is not None, cur


@pytest.mark.parametrize("text,message", [
    (GOOD.replace("currency: JPY", "currency: JPN"),
     ":5: rates.3.currency: unknown currency code 'JPN' (ISO 4217, e.g. USD, EUR, JPY)"),
    (GOOD.replace("reporting_currency: USD", "reporting_currency: usd"),
     ":1: reporting_currency: unknown currency code 'usd'"),
    (GOOD.replace("rate: 1.08", "rate: -1.08"), ":3: rates.1.rate: Input should be greater than 0"),
    (GOOD.replace("rate: 1.08", "rate: 0"), ":3: rates.1.rate: Input should be greater than 0"),
    (GOOD.replace("2026-07-01", "2026-01-01"),
     ":4: rates.2.from: EUR from 2026-01-01 is given twice (rates 1 and 2)"),
    (GOOD + "  - {currency: USD, rate: 1.2, from: 2026-01-01}\n",
     ":6: rates.4.rate: USD is the reporting currency: its rate is 1, not 1.2 (leave it out)"),
    (GOOD.replace("from: 2026-07-01", "from: July"), ":4: rates.2.from: Input should be a valid date"),
    (GOOD.replace("rate: 1.10, ", ""), ":4: rates.2.rate: Field required"),
])
def test_a_bad_file_is_one_precise_line(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_rates(path)
    assert str(exc.value).startswith(f"{path}{message}"), str(exc.value)


def test_the_reporting_currency_at_rate_one_may_be_listed(tmp_path):
    rates = load_rates(write(tmp_path, GOOD + "  - {currency: USD, rate: 1, from: 2026-01-01}\n"))
    assert rates.convert(Decimal("3"), "USD", utc(2020, 1, 1)) == Decimal("3")


def test_order_ids_are_not_shared_between_converted_and_unconverted_books():
    # the same order id in two currencies: each amount in its own place, neither added to the other
    s = KpiState(RATES)
    apply_order(s, make_order(order_id="o1", amount=Decimal("100"), occurred_at=utc(2026, 3, 1)))
    apply_order(s, make_order(order_id="o1", event_id=uuid.uuid4(), amount=Decimal("9"), currency="CNY",
                              occurred_at=utc(2026, 3, 1)))
    snap = total(s)
    assert row(snap).revenue == Decimal("108.00") and snap.unconverted[0].revenue == Decimal("9.00")


def test_a_worker_with_a_bad_currencies_file_refuses_to_start(tmp_path):
    from agents.kpis import agent
    from pipeline.settings import PathsSettings

    bad = write(tmp_path, GOOD.replace("rate: 1.08", "rate: -1"))
    registered: list[str] = []
    rt = type("Rt", (), {"settings": type("S", (), {"paths": PathsSettings(currencies=bad)})(),
                         "metrics": Metrics(CollectorRegistry()),
                         "on": lambda self, event_type, handler: registered.append(event_type)})()
    with pytest.raises(ConfigError, match=r":3: rates.1.rate: Input should be greater than 0"):
        agent.register(rt)
    assert registered == []        # (a good file starts every worker of the integration tests)
