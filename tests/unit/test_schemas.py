"""The wire contract: names, strictness, money, timestamps, JSON Schema export."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from pydantic import ValidationError

from schemas.events import INPUT_ADAPTER, OrderEvent
from tests.support.factories import make_feedback, make_funnel, make_incident, make_order, make_spend

FACTORIES = [make_feedback, make_order, make_incident, make_funnel, make_spend]


@pytest.mark.parametrize("factory", FACTORIES)
def test_round_trip_through_json(factory):
    ev = factory()
    back = INPUT_ADAPTER.validate_json(ev.model_dump_json())
    assert back == ev
    body = json.loads(ev.model_dump_json())
    for key in ("event_id", "event_type", "schema_version", "occurred_at"):
        assert key in body
    assert body["schema_version"] == 1


def test_funnel_campaign_id_is_optional_so_old_messages_stay_valid():
    old = json.loads(make_funnel().model_dump_json())
    del old["campaign_id"]
    assert INPUT_ADAPTER.validate_json(json.dumps(old)).campaign_id is None
    new = INPUT_ADAPTER.validate_json(make_funnel(campaign_id="spring-sale").model_dump_json())
    assert new.campaign_id == "spring-sale"
    with pytest.raises(ValidationError, match="campaign_id"):
        INPUT_ADAPTER.validate_json(json.dumps({**old, "campaign_id": ""}))


def _order_json(**changes) -> str:
    body = json.loads(make_order().model_dump_json())
    body.update(changes)
    return json.dumps({k: v for k, v in body.items() if v is not ...})


@pytest.mark.parametrize("amount, expected", [(12.5, Decimal("12.5")), ("0.10", Decimal("0.10")), (3, Decimal(3))])
def test_money_as_number_or_decimal_string(amount, expected):
    ev = INPUT_ADAPTER.validate_json(_order_json(amount=amount))
    assert ev.amount == expected and isinstance(ev.amount, Decimal)


@pytest.mark.parametrize("changes, field", [
    ({"amount": "lots"}, "amount"),
    ({"amount": -1}, "amount"),
    ({"amount": True}, "amount"),
    ({"amount": "NaN"}, "amount"),
    ({"currency": "euro"}, "currency"),
    ({"status": "teleported"}, "status"),
    ({"channel": "fax"}, "channel"),
    ({"occurred_at": "2026-11-02T09:00:00"}, "occurred_at"),
    ({"event_id": "not-a-uuid"}, "event_id"),
    ({"schema_version": 2}, "schema_version"),
    ({"unexpected": 1}, "unexpected"),
    ({"customer_id": ""}, "customer_id"),
    ({"items": [{"sku": "a", "category": "b", "quantity": "1", "unit_price": 1}]}, "quantity"),
    ({"customer_id": ...}, "customer_id"),
])
def test_rejects_with_field_named(changes, field):
    with pytest.raises(ValidationError) as info:
        INPUT_ADAPTER.validate_json(_order_json(**changes))
    assert field in str(info.value)


def test_models_are_frozen():
    ev = make_order()
    with pytest.raises(ValidationError):
        ev.amount = Decimal(1)  # type: ignore[misc]


def test_campaign_period_must_be_ordered():
    from datetime import timedelta

    ev = make_spend()
    with pytest.raises(ValidationError, match="period_end"):
        type(ev).model_validate({**ev.model_dump(), "period_end": ev.period_start - timedelta(days=1)})


def test_schema_export_writes_every_event(tmp_path):
    from click.testing import CliRunner

    from agents.cli.main import cli

    result = CliRunner().invoke(cli, ["schemas", "export", str(tmp_path)])
    assert result.exit_code == 0, result.output
    names = {p.name for p in tmp_path.iterdir()}
    for model in ("FeedbackEvent", "OrderEvent", "IncidentEvent", "FunnelEvent", "CampaignSpendEvent", "DeadLetter"):
        assert f"{model}.schema.json" in names
    schema = json.loads((tmp_path / "OrderEvent.schema.json").read_text())
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) >= {"occurred_at", "channel", "customer_id", "order_id", "status", "amount", "currency"}
    assert OrderEvent.model_fields["event_type"].default == "order"
