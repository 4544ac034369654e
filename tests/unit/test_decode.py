"""Raw bytes -> event or a dead-letter reason; never an exception."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.decode import Rejected, decode
from schemas.deadletter import DeadLetter, DeadLetterReason
from tests.support.factories import make_feedback, make_order

ORDERS = frozenset({"order"})


def test_valid_event_decodes():
    ev = make_order()
    assert decode(ev.model_dump_json().encode(), expected_types=ORDERS, max_bytes=10_000) == ev


@pytest.mark.parametrize("raw, reason", [
    (b"", DeadLetterReason.invalid_json),
    (None, DeadLetterReason.invalid_json),
    (b"\xff\xfe\xfd", DeadLetterReason.invalid_utf8),
    (b"{nope", DeadLetterReason.invalid_json),
    (b"[1, 2]", DeadLetterReason.schema_violation),
    (b'{"event_type": "order"}', DeadLetterReason.schema_violation),
    (b'{"event_type": "bogus"}', DeadLetterReason.schema_violation),
    (b"[" * 4_000 + b"]" * 4_000, DeadLetterReason.invalid_json),
    (b'"' + b"x" * 20_000 + b'"', DeadLetterReason.too_large),
])
def test_rejections(raw, reason):
    result = decode(raw, expected_types=ORDERS, max_bytes=10_000)
    assert isinstance(result, Rejected)
    assert result.reason == reason
    assert result.detail


def test_event_on_the_wrong_topic_is_rejected():
    result = decode(make_feedback().model_dump_json().encode(), expected_types=ORDERS, max_bytes=10_000)
    assert isinstance(result, Rejected) and result.reason == DeadLetterReason.wrong_topic


def test_schema_violation_names_the_field():
    body = json.loads(make_order().model_dump_json())
    body["amount"] = "lots"
    result = decode(json.dumps(body).encode(), expected_types=ORDERS, max_bytes=10_000)
    assert isinstance(result, Rejected) and "amount" in result.detail


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_never_raise(raw):
    result = decode(raw, expected_types=ORDERS, max_bytes=1500)
    assert isinstance(result, Rejected)


@settings(max_examples=300, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                    lambda c: st.lists(c, max_size=5) | st.dictionaries(st.text(max_size=10), c, max_size=5),
                    max_leaves=30))
def test_random_json_never_raises(obj):
    result = decode(json.dumps(obj).encode(), expected_types=ORDERS, max_bytes=100_000)
    assert isinstance(result, Rejected)


def test_dead_letter_keeps_original_bytes():
    from datetime import datetime, timezone

    raw = b"\x00\x01binary"
    dl = DeadLetter.build(reason=DeadLetterReason.invalid_utf8, detail="x", topic="orders", partition=1,
                          offset=7, key=None, value=raw, now=datetime.now(timezone.utc))
    assert DeadLetter.model_validate_json(dl.model_dump_json()).original() == raw


def test_nul_in_text_is_a_schema_violation_not_a_database_error():
    """PostgreSQL text cannot hold U+0000; such an event must be dead-lettered, not retried forever."""
    from schemas.escalation import CONTROL_ADAPTER

    body = (b'{"event_type": "feedback", "occurred_at": "2026-01-01T00:00:00+00:00", "channel": "web",'
            b' "customer_id": "c1", "text": "broken \\u0000 text"}')
    got = decode(body, expected_types=frozenset({"feedback"}), max_bytes=10_000)
    assert isinstance(got, Rejected) and got.reason.value == "schema_violation" and "NUL" in got.detail
    ok = decode(body.replace(b"\\u0000", b""), expected_types=frozenset({"feedback"}), max_bytes=10_000)
    assert not isinstance(ok, Rejected)
    command = (b'{"event_type": "incident_command", "type": "ack", "incident_key": "k", "by": "x\\u0000y",'
               b' "occurred_at": "2026-01-01T00:00:00+00:00"}')
    assert CONTROL_ADAPTER.validate_json(command.replace(b"\\u0000", b"")).by == "xy"
    with pytest.raises(ValueError, match="NUL"):
        CONTROL_ADAPTER.validate_json(command)
