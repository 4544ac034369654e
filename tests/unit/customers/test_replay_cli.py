"""`salespulse customers replay` and `salespulse kpis replay` as a user runs them."""

from __future__ import annotations

import json
from decimal import Decimal

from agents.cli.main import main
from schemas.events import OrderStatus
from tests.support.factories import at, make_feedback, make_order, make_spend


def write(tmp_path, events, extra=()):
    path = tmp_path / "events.jsonl"
    path.write_text("".join(e.model_dump_json() + "\n" for e in events) + "".join(extra))
    return path


EVENTS = [
    make_order(customer_id="b", order_id="o1", amount=Decimal("100"), campaign_id="spring-sale"),
    make_order(customer_id="b", order_id="o1", status=OrderStatus.shipped, occurred_at=at(60)),
    make_order(customer_id="b", order_id="o1", status=OrderStatus.refunded, occurred_at=at(120),
               amount=Decimal("25")),
    make_order(customer_id="a", order_id="o2", amount=Decimal("40"), occurred_at=at(30)),
    make_feedback(customer_id="a", rating=1, occurred_at=at(200)),
    make_spend(amount=Decimal("50")),
]


def test_customers_replay_prints_sorted_profiles(tmp_path, capsys):
    assert main(["customers", "replay", str(write(tmp_path, EVENTS))]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["customer_id"] for x in lines] == ["a", "b"]
    b = lines[1]
    # in USD, the shipped config/currencies.yaml's reporting currency: EUR at 1.10 in November 2026
    assert (b["orders_count"], b["total_spend"], b["refunds"], b["average_order_value"]) == (
        1, "82.50", "27.50", "82.50")
    assert b["currency"] == "USD" and b["unconverted"] == {}
    assert set(b["rfm"]) == {"r", "f", "m", "segment"} and 0 <= b["churn_risk"] <= 1
    assert lines[0]["feedback_count"] == 1 and lines[0]["occurred_at"] == "2026-11-02T12:20:00Z"  # now = latest


def test_bad_lines_are_reported_and_skipped(tmp_path, capsys):
    path = write(tmp_path, EVENTS[:1], extra=["{not json\n", '{"event_type": "order"}\n'])
    assert main(["customers", "replay", str(path), "--now", "2026-12-01T00:00:00+00:00"]) == 1
    out = capsys.readouterr()
    assert len(out.out.splitlines()) == 1
    errors = out.err.splitlines()
    assert len(errors) == 2 and f"{path}:2:" in errors[0] and f"{path}:3:" in errors[1]


def test_now_needs_a_timezone(tmp_path, capsys):
    assert main(["customers", "replay", str(write(tmp_path, EVENTS)), "--now", "2026-12-01"]) == 2
    assert "timezone" in capsys.readouterr().err


def test_kpis_replay(tmp_path, capsys):
    # the events are in EUR (November 2026); the shipped config/currencies.yaml reports in USD, EUR at 1.10
    assert main(["kpis", "replay", str(write(tmp_path, EVENTS)), "--window", "total"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["currency"] == "USD"
    total = out["windows"]["total"][0]
    assert total["currency"] == "USD" and total["unconverted"] == []
    everything = next(r for r in total["rows"] if r["dimension"] == "all")
    assert (everything["orders"], everything["revenue"]) == (2, "126.50")          # 115 EUR x 1.10
    campaign = total["campaigns"][0]
    assert campaign["campaign_id"] == "spring-sale" and campaign["roi"] == 0.5
    assert (campaign["spend"], campaign["attributed_revenue"]) == ("55.00", "82.50")


def currencies(tmp_path, text):
    path = tmp_path / "currencies.yaml"
    path.write_text(text)
    return path


def targets_in(tmp_path, currency):
    from agents.kpis.targets import DEFAULT_PATH

    path = tmp_path / "targets.yaml"
    path.write_text(DEFAULT_PATH.read_text().replace("currency: USD ", f"currency: {currency} "))
    return path


def test_kpis_replay_with_a_currencies_file(tmp_path, capsys):
    rates = currencies(tmp_path, "reporting_currency: GBP\nrates:\n  - {currency: EUR, rate: 0.8, from: 2026-01-01}\n")
    events = EVENTS + [make_order(customer_id="c", order_id="o3", amount=Decimal("1000"), currency="JPY",
                                  occurred_at=at(10))]
    assert main(["kpis", "replay", str(write(tmp_path, events)), "--window", "total", "--currencies", str(rates),
                 "--targets", str(targets_in(tmp_path, "GBP"))]) == 0
    total = json.loads(capsys.readouterr().out)["windows"]["total"][0]
    assert total["currency"] == "GBP"
    everything = next(r for r in total["rows"] if r["dimension"] == "all")
    assert (everything["orders"], everything["revenue"]) == (2, "92.00")            # 115 EUR x 0.8; no yen
    assert total["unconverted"] == [{"currency": "JPY", "orders": 1, "gross_revenue": "1000.00", "refunds": "0.00",
                                     "revenue": "1000.00", "spend": "0.00"}]


def test_kpis_replay_currencies_from_the_settings(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SALESPULSE_PATHS__CURRENCIES", str(currencies(tmp_path, "reporting_currency: EUR\n")))
    monkeypatch.setenv("SALESPULSE_PATHS__TARGETS", str(targets_in(tmp_path, "EUR")))
    assert main(["kpis", "replay", str(write(tmp_path, EVENTS)), "--window", "total"]) == 0
    total = json.loads(capsys.readouterr().out)["windows"]["total"][0]
    assert next(r for r in total["rows"] if r["dimension"] == "all")["revenue"] == "115.00"


def test_kpis_replay_refuses_a_bad_currencies_file_in_one_line(tmp_path, capsys):
    rates = currencies(tmp_path, "reporting_currency: USD\nrates:\n  - {currency: EUR, rate: -2, from: 2026-01-01}\n")
    assert main(["kpis", "replay", str(write(tmp_path, EVENTS)), "--currencies", str(rates)]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err == f"error: {rates}:3: rates.1.rate: Input should be greater than 0\n"


def test_kpis_replay_refuses_targets_in_another_currency(tmp_path, capsys):
    targets = targets_in(tmp_path, "EUR")
    assert main(["kpis", "replay", str(write(tmp_path, EVENTS)), "--targets", str(targets)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {targets}:5: currency: targets are in EUR but the KPIs report in USD")
    assert len(err.splitlines()) == 1


def test_customers_replay_with_a_currencies_file(tmp_path, capsys):
    rates = currencies(tmp_path, "reporting_currency: GBP\nrates:\n  - {currency: EUR, rate: 0.8, from: 2026-01-01}\n")
    events = EVENTS + [make_order(customer_id="b", order_id="o3", amount=Decimal("1000"), currency="JPY",
                                  occurred_at=at(10))]
    assert main(["customers", "replay", str(write(tmp_path, events)), "--currencies", str(rates)]) == 0
    b = [json.loads(x) for x in capsys.readouterr().out.splitlines()][1]
    assert (b["currency"], b["orders_count"], b["total_spend"], b["refunds"]) == ("GBP", 1, "60.00", "20.00")
    assert b["unconverted"] == {"JPY": {"orders": 1, "total_spend": "1000.00", "refunds": "0.00"}}


def test_customers_replay_refuses_a_bad_currencies_file_in_one_line(tmp_path, capsys):
    rates = currencies(tmp_path, "reporting_currency: EURO\n")
    assert main(["customers", "replay", str(write(tmp_path, EVENTS)), "--currencies", str(rates)]) == 2
    out = capsys.readouterr()
    assert out.out == "" and out.err.startswith(f"error: {rates}:1: reporting_currency:") and len(out.err.splitlines()) == 1
