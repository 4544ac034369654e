"""POST /events, pure parts: token -> channel, body -> events or a refusal naming the fields, token bucket."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from agents.ingest.web import (
    REASONS, Refused, TokenBucket, bearer, channel_for_token, check_channels, hash_token, retry_after, split_body,
    validate_items,
)
from pipeline.http import BodyRefused, check_encoding, json_depth
from pipeline.openapi import build_openapi
from pipeline.settings import IngestHttpSettings
from schemas.events import Channel
from tests.support.factories import make_feedback, make_order, make_spend

TOKENS = {"phone": [hash_token("tok-phone")], "web": [hash_token("tok-web-old"), hash_token("tok-web-new")]}


def order_json(**kw) -> dict:
    return json.loads(make_order(**kw).model_dump_json())


def refusal(fn, *args) -> Refused:
    with pytest.raises(Refused) as info:
        fn(*args)
    return info.value


@pytest.mark.parametrize("header, token", [
    ("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("Basic abc", None), ("Bearer ", None), (None, None), ("", None),
])
def test_bearer(header, token):
    assert bearer(header) == token


@pytest.mark.parametrize("token, channel", [
    ("tok-phone", "phone"), ("tok-web-old", "web"), ("tok-web-new", "web"), ("tok-other", None), (None, None), ("", None),
])
def test_a_token_names_its_channel(token, channel):
    found = channel_for_token(token, TOKENS)
    assert (found[0] if found else None) == channel
    if found:
        assert found[1] == hash_token(token)


@pytest.mark.parametrize("body, status, words", [
    (b"", 400, "empty body"),
    (b"{", 400, "malformed JSON"),
    (b"\xff\xfe", 400, "malformed JSON"),
    (b"[" * 5000 + b"]" * 5000, 400, "nested deeper than 32"),
    (b"[" * 100_000, 400, "nested deeper than 32"),
    (b"[" * 33 + b"]" * 33, 400, "nested deeper than 32"),
    (b"NaN", 400, "malformed JSON"),
    (b"42", 400, "one event object"),
    (b'"text"', 400, "one event object"),
    (b"[]", 400, "empty"),
    (b'{"events": {}}', 400, "must be an array"),
    (b"[" + b",".join([b"{}"] * 11) + b"]", 413, "at most 10"),
])
def test_bodies_that_are_refused_before_validation(body, status, words):
    r = refusal(split_body, body, 10)
    assert r.status == status and words in r.message


def test_nesting_within_the_limit_passes_to_the_shape_check():
    assert len(split_body(b"[" * 32 + b"]" * 32, 10)) == 1
    assert split_body(b"[" + b"{}" + b"]", 10, max_depth=2) == [{}]


@pytest.mark.parametrize("doc, depth", [(1, 0), ("x", 0), ([], 1), ({"a": [1, {"b": [2]}]}, 4), ([[], [[[]]]], 4)])
def test_json_depth_counts_arrays_and_objects(doc, depth):
    assert json_depth(doc) == depth


@pytest.mark.parametrize("encoding, ok", [("", True), ("gzip", True), ("GZIP", True), ("deflate", True),
                                          ("identity", True), ("compress", False), ("x-gzip", False),
                                          ("gzip, gzip", False), ("foo", False)])
def test_only_codings_aiohttp_decodes_are_accepted(encoding, ok):
    headers = {"Content-Encoding": encoding} if encoding else {}
    if ok:
        check_encoding(headers)
        return
    with pytest.raises(BodyRefused) as err:
        check_encoding(headers)
    assert err.value.status == 415 and err.value.reason == "unsupported_encoding"
    assert "gzip" in err.value.headers["Accept-Encoding"] and "\n" not in err.value.message


def test_every_body_refusal_reason_is_a_bounded_ingest_reason():
    assert {"bad_encoding", "unsupported_encoding", "body_timeout", "client_disconnected", "invalid_json",
            "body_too_large"} <= set(REASONS)
    assert len(REASONS) == len(set(REASONS))


@pytest.mark.parametrize("doc, n", [({"event_type": "order"}, 1), ([{}, {}], 2), ({"events": [{}, {}, {}]}, 3)])
def test_three_shapes_of_body(doc, n):
    assert len(split_body(json.dumps(doc).encode(), 10)) == n


def test_valid_events_validate_as_on_kafka_strings_for_uuid_time_enum_and_money():
    events = validate_items([order_json(), json.loads(make_feedback().model_dump_json())])
    assert [e.event_type for e in events] == ["order", "feedback"]
    assert str(events[0].amount) == "100.00"


def test_schema_violations_name_index_and_field_and_nothing_passes():
    bad_amount = order_json(); bad_amount["amount"] = "abc"
    bad_line = order_json(); bad_line["items"][0]["unit_price"] = -1
    strict = order_json(); strict["items"][0]["quantity"] = "2"  # strict: no string for an integer
    naive = order_json(); naive["occurred_at"] = "2026-11-02T09:00:00"
    extra = order_json(); extra["colour"] = "red"
    r = refusal(validate_items, [order_json(), bad_amount, bad_line, strict, naive, extra,
                                 {"event_type": "nope"}, {}, 7])
    assert r.status == 422 and r.reason == "schema_violation" and "8 of 9" in r.message
    got = {(e["index"], e["field"]) for e in r.errors}
    assert {(1, "amount"), (2, "items.0.unit_price"), (3, "items.0.quantity"), (4, "occurred_at"),
            (5, "colour"), (6, "event_type"), (7, "event_type"), (8, "(event)")} <= got
    assert 0 not in {e["index"] for e in r.errors}
    assert all(e["error"] for e in r.errors)


def test_a_whole_event_rule_is_reported_on_the_event():
    spend = json.loads(make_spend().model_dump_json())
    spend["period_start"], spend["period_end"] = spend["period_end"], spend["period_start"]
    r = refusal(validate_items, [spend])
    assert r.errors == [{"index": 0, "field": "(event)", "error": "Value error, period_end is before period_start"}]


def test_error_lists_are_bounded():
    items = [{"event_type": "order"}] * 50  # ~9 missing fields each
    r = refusal(validate_items, items)
    assert len(r.errors) == 100 and r.more > 0 and r.body()["more_errors"] == r.more


def test_a_token_submits_only_its_own_channel():
    check_channels([make_order(channel=Channel.phone), make_spend()], "phone")  # spend may name no channel
    r = refusal(check_channels, [make_order(channel=Channel.phone), make_order(channel=Channel.web)], "phone")
    assert r.status == 403 and r.errors == [{"index": 1, "field": "channel",
                                             "error": "this token is for channel 'phone', the event says 'web'"}]


def test_token_bucket_refills_at_the_rate_and_caps_at_the_burst():
    b = TokenBucket(rate=10, burst=20)
    assert b.take(20, now=0.0) == 0.0
    assert b.take(5, now=0.0) == pytest.approx(0.5)  # nothing taken when refused
    assert b.take(5, now=0.5) == 0.0
    assert b.wait_for(1, now=100.0) == 0.0 and b.tokens == 20
    assert retry_after(0.01) == {"Retry-After": "1"} and retry_after(2.2) == {"Retry-After": "3"}


def test_settings_refuse_unknown_channels_bad_hashes_and_a_burst_below_a_batch():
    ok = IngestHttpSettings(tokens_sha256={"phone": hash_token("x").upper()})
    assert ok.tokens_sha256 == {"phone": [hash_token("x")]}
    for bad in ({"tokens_sha256": {"fax": [hash_token("x")]}}, {"tokens_sha256": {"phone": ["secret"]}},
                {"max_batch_events": 100, "burst": 10}):
        with pytest.raises(ValidationError):
            IngestHttpSettings(**bad)


def test_openapi_document_loads_and_takes_the_event_schemas_from_the_models():
    import schemathesis

    doc = build_openapi(IngestHttpSettings(max_batch_events=7))
    assert doc["components"]["schemas"]["OrderEvent"]["additionalProperties"] is False
    assert doc["components"]["schemas"]["EventBatch"]["properties"]["events"]["maxItems"] == 7
    responses = doc["paths"]["/events"]["post"]["responses"]
    assert set(responses) == {"202", "400", "401", "403", "413", "422", "429", "503"}
    schema = schemathesis.openapi.from_dict(doc)
    labels = {op.ok().label for op in schema.get_all_operations()}
    assert {"POST /events", "GET /openapi.json", "GET /health/ready", "GET /metrics"} <= labels


def test_an_event_later_than_the_clock_plus_skew_is_refused_like_the_worker_would_dead_letter_it():
    from datetime import datetime, timedelta, timezone

    now = datetime.now(timezone.utc)
    fine = json.loads(make_feedback(occurred_at=now).model_dump_json())
    later = json.loads(make_feedback(occurred_at=now + timedelta(days=2)).model_dump_json())
    assert len(validate_items([fine], now + timedelta(hours=1))) == 1
    with pytest.raises(Refused) as exc:
        validate_items([fine, later], now + timedelta(hours=1))
    assert exc.value.status == 422 and [e["index"] for e in exc.value.errors] == [1]
    assert exc.value.errors[0]["field"] == "occurred_at"
