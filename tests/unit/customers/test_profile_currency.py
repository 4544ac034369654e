"""Customer profiles in the reporting currency: each amount at the rate of its own time, amounts no rate
covers kept apart per currency (never added raw); the same under any arrival order, redelivery or a
restart from the stored form, equal to a plain reference, and in the worker's revenue metric."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, Decimal

from hypothesis import given, settings, strategies as st
from prometheus_client import CollectorRegistry

from agents.customers import CustomerBook, CustomerProfile
from pipeline.currency import Rates
from schemas.events import Channel, OrderStatus
from tests.support.factories import make_order
from tests.unit.customers.reference import customer_totals

RATES = Rates(reporting_currency="USD", rates=(
    {"currency": "EUR", "rate": Decimal("1.08"), "from": date(2026, 3, 1)},
    {"currency": "EUR", "rate": Decimal("1.10"), "from": date(2026, 7, 1)},
    {"currency": "JPY", "rate": Decimal("0.0067"), "from": date(2026, 1, 1)},
))


def utc(y, m, d, h=12):
    return datetime(y, m, d, h, tzinfo=timezone.utc)


def test_amounts_in_different_currencies_are_converted_not_added_raw():
    book = CustomerBook(rates=RATES)
    book.order(make_order(order_id="o1", amount=Decimal("100"), currency="EUR", occurred_at=utc(2026, 3, 2)))
    book.order(make_order(order_id="o2", amount=Decimal("10000"), currency="JPY", occurred_at=utc(2026, 3, 3)))
    snap = book.snapshot("cust-1", utc(2026, 3, 4))
    assert (snap.total_spend, snap.average_order_value, snap.currency) == (Decimal("175.00"), Decimal("87.50"), "USD")
    assert snap.spend_by_category == {"home": Decimal("175.00")} and snap.unconverted == {}


def test_a_refund_is_converted_at_the_rate_of_its_own_time():
    book = CustomerBook(rates=RATES)
    book.order(make_order(order_id="o1", amount=Decimal("100"), occurred_at=utc(2026, 6, 15)))          # 1.08
    book.order(make_order(order_id="o1", status=OrderStatus.refunded, amount=Decimal("50"),
                          occurred_at=utc(2026, 7, 2)))                                                  # 1.10
    snap = book.snapshot("cust-1", utc(2026, 7, 3))
    assert (snap.total_spend, snap.refunds) == (Decimal("53.00"), Decimal("55.00"))
    # a cancellation after payment refunds the converted amount of the order, whatever the rate then
    book.order(make_order(order_id="o1", status=OrderStatus.cancelled, occurred_at=utc(2026, 7, 4)))
    snap = book.snapshot("cust-1", utc(2026, 7, 5))
    assert (snap.total_spend, snap.refunds) == (Decimal("0.00"), Decimal("108.00"))


def test_amounts_without_a_rate_are_kept_apart_per_currency():
    book = CustomerBook(rates=RATES)
    book.order(make_order(order_id="o1", amount=Decimal("100"), occurred_at=utc(2026, 3, 2)))
    book.order(make_order(order_id="o2", amount=Decimal("500"), currency="CHF", occurred_at=utc(2026, 3, 2)))
    book.order(make_order(order_id="o2", status=OrderStatus.refunded, amount=Decimal("20"), currency="CHF",
                          occurred_at=utc(2026, 3, 3)))
    book.order(make_order(order_id="o3", amount=Decimal("70"), occurred_at=utc(2026, 2, 1)))  # EUR before its first rate
    snap = book.snapshot("cust-1", utc(2026, 3, 4))
    assert (snap.orders_count, snap.total_spend, snap.refunds) == (1, Decimal("108.00"), Decimal("0.00"))
    dumped = snap.model_dump(mode="json")["unconverted"]
    assert dumped == {"CHF": {"orders": 1, "total_spend": "480.00", "refunds": "20.00"},
                      "EUR": {"orders": 1, "total_spend": "70.00", "refunds": "0.00"}}
    only_apart = CustomerBook(rates=RATES)
    only_apart.order(make_order(amount=Decimal("5"), currency="CHF"))
    snap = only_apart.snapshot("cust-1", utc(2026, 3, 4))
    assert snap.rfm is None and snap.orders_count == 0 and snap.unconverted["CHF"].orders == 1
    assert type(snap).model_validate_json(snap.model_dump_json()) == snap


def test_the_stored_form_keeps_converted_amounts_and_what_was_kept_apart():
    book = CustomerBook(rates=RATES)
    book.order(make_order(order_id="o1", amount=Decimal("100"), occurred_at=utc(2026, 3, 2)))
    book.order(make_order(order_id="o2", amount=Decimal("500"), currency="CHF", occurred_at=utc(2026, 3, 2)))
    p = book.profiles["cust-1"]
    stored = json.loads(json.dumps(p.to_dict()))
    assert set(stored["ua"]) == {"CHF"}
    back = CustomerProfile.from_dict(stored)
    assert (back.net, back.unconverted()) == (1_080_000, {"CHF": (1, 5_000_000, 0)})  # 108.00 USD stored as such


CURRENCIES = ["EUR", "JPY", "CHF", "USD"]
START = utc(2026, 2, 20)


@st.composite
def histories(draw):
    """Orders of three customers in four currencies (CHF has no rate; EUR's starts and changes within the
    span), each order in one currency, events at distinct minutes."""
    n = draw(st.integers(1, 25))
    minutes = draw(st.lists(st.integers(0, 60 * 24 * 200), min_size=n, max_size=n, unique=True))
    events = []
    for m in minutes:
        k = draw(st.integers(0, 5))
        events.append(make_order(
            customer_id=f"c{k % 3}", order_id=f"o{k}", currency=CURRENCIES[k % 4],
            occurred_at=START + timedelta(minutes=m),
            status=draw(st.sampled_from(list(OrderStatus))), amount=Decimal(draw(st.integers(1, 50_000))) / 100,
            channel=draw(st.sampled_from([Channel.web, Channel.store])), event_id=uuid.uuid4()))
    return events


def run(events, split_at=None):
    book = CustomerBook(rates=RATES)
    for i, e in enumerate(events):
        if i == split_at:
            stored = [json.loads(json.dumps(p.to_dict())) for p in book.profiles.values()]
            book = CustomerBook(book.params, [CustomerProfile.from_dict(d) for d in stored], RATES)
        book.order(e)
    return book


def view(book, now):
    return {s.customer_id: s.model_dump(exclude={"event_id"}) for s in book.snapshots(now)}


@settings(max_examples=150, deadline=None)
@given(histories(), st.randoms(use_true_random=False), st.data())
def test_arrival_order_redelivery_and_restart_do_not_matter(events, rnd, data):
    now = utc(2026, 10, 1)
    expected = view(run(events), now)
    shuffled = list(events) + data.draw(st.lists(st.sampled_from(events), max_size=8), label="redelivered")
    rnd.shuffle(shuffled)
    assert view(run(shuffled, split_at=data.draw(st.integers(0, len(shuffled)), label="split")), now) == expected


@settings(max_examples=150, deadline=None)
@given(histories())
def test_profiles_equal_a_reference_that_converts_each_event_first(events):
    """The reference converts every event's amount at its own time (rounded to 1/10,000 half-even, as
    pipeline.currency.units) and then applies the plain order semantics; events no rate covers form an
    order of their own per currency."""
    converted, apart = [], []
    for e in events:
        c = RATES.convert(e.amount, e.currency, e.occurred_at)
        if c is None:
            apart.append(e.model_copy(update={"order_id": f"{e.order_id}|{e.currency}"}))
        else:
            converted.append(e.model_copy(update={"amount": c.quantize(Decimal("0.0001"), ROUND_HALF_EVEN)}))
    ref = customer_totals(converted)
    book = run(events)
    for cid, p in book.profiles.items():
        snap = book.snapshot(cid, utc(2026, 10, 1))
        r = ref.get(cid, {"orders_count": 0, "total_spend": 0, "refunds": 0})
        assert (snap.orders_count, snap.total_spend, snap.refunds) == (r["orders_count"], r["total_spend"], r["refunds"])
        want: dict[str, dict] = {}
        for cur in {e.currency for e in apart if e.customer_id == cid}:
            t = customer_totals([e for e in apart if e.customer_id == cid and e.currency == cur]).get(cid)
            if t and t["orders_count"]:
                want[cur] = {"orders": t["orders_count"], "total_spend": t["total_spend"], "refunds": t["refunds"]}
        assert {k: v.model_dump() for k, v in snap.unconverted.items()} == want


async def test_revenue_metric_is_in_the_reporting_currency_and_leaves_unconverted_amounts_out(tmp_path, db_url):
    from agents import build_worker
    from pipeline.metrics import Metrics
    from pipeline.settings import Settings

    rates = tmp_path / "currencies.yaml"
    rates.write_text("reporting_currency: USD\nrates:\n  - {currency: EUR, rate: 1.08, from: 2026-03-01}\n"
                     "  - {currency: JPY, rate: 0.0067, from: 2026-01-01}\n")
    settings = Settings(database={"url": db_url}, worker={"data_dir": str(tmp_path / "d"), "app_id": "cur"},
                        paths={"currencies": str(rates)})
    registry = CollectorRegistry()
    worker = build_worker(settings, Metrics(registry))
    meta = type("M", (), {"partition": 0})()
    on_order = worker.customers.on_order
    await on_order(make_order(order_id="o1", amount=Decimal("100"), occurred_at=utc(2026, 3, 2)), meta)
    await on_order(make_order(order_id="o2", amount=Decimal("10000"), currency="JPY", occurred_at=utc(2026, 3, 2)), meta)
    await on_order(make_order(order_id="o3", amount=Decimal("900"), currency="CHF", occurred_at=utc(2026, 3, 2)), meta)
    await on_order(make_order(order_id="o1", status=OrderStatus.refunded, amount=Decimal("10"),
                              occurred_at=utc(2026, 3, 3)), meta)
    labels = {"channel": "web", "region": "north"}
    assert registry.get_sample_value("salespulse_revenue_total", labels | {"currency": "USD"}) == 175.0
    assert registry.get_sample_value("salespulse_refunds_total", labels | {"currency": "USD"}) == 10.8
    for cur in ("EUR", "JPY", "CHF"):
        assert registry.get_sample_value("salespulse_revenue_total", labels | {"currency": cur}) is None
    assert registry.get_sample_value("salespulse_orders_total", labels) == 2
    # the profile still changed: what is kept apart is published with it
    assert "cust-1" in worker.customers.changed
    await worker.rt.engine.dispose()
