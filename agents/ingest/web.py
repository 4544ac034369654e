"""HTTP POST /events (bearer token per channel) -> validated input events -> their input topics; GET /openapi.json."""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pydantic_core
from faust import web
from pydantic import ValidationError

from pipeline import topics as T
from pipeline.emitter import partition_key
from pipeline.errors import UserInputError
from pipeline.http import BodyRefused, parse_json, read_body
from pipeline.ratelimit import TokenBucket, retry_after  # noqa: F401  (the ingest API's names too)
from pipeline.settings import IngestHttpSettings
from pipeline.tokens import hash_token
from schemas.events import INPUT_ADAPTER, EventBase

log = logging.getLogger(__name__)

MAX_ERRORS = 100  # error entries in one 4xx answer; the rest are counted in "more_errors"
# Rejection reasons (the `reason` label of salespulse_http_ingest_rejections_total): bounded.
REASONS = ("unauthorized", "body_too_large", "invalid_json", "batch_too_large", "schema_violation",
           "wrong_channel", "rate_limited", "broker_unavailable", "internal_error",
           "bad_encoding", "unsupported_encoding", "body_timeout", "client_disconnected")
MAX_JSON_DEPTH = 32  # an event nests 4 levels ({"events": [{"items": [{...}]}]}); the worker's setting overrides


class Refused(UserInputError):
    """A request POST /events answers with a 4xx/5xx: status, metric reason, one line, per-event errors."""

    def __init__(self, status: int, reason: str, message: str, errors: list[dict] | None = None,
                 more: int = 0, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message
        self.errors, self.more, self.headers = errors, more, headers or {}

    def body(self) -> dict:
        out: dict[str, Any] = {"error": self.message}
        if self.errors is not None:
            out["errors"] = self.errors
            if self.more:
                out["more_errors"] = self.more
        return out


# --- pure core: token -> channel, bytes -> events, rate ------------------------------------------

def bearer(header: str | None) -> str | None:
    if header and header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return None


def channel_for_token(token: str | None, tokens_sha256: dict[str, list[str]]) -> tuple[str, str] | None:
    """(channel, digest) of a known token, or None; every stored hash is compared, in constant time."""
    if not token:
        return None
    digest = hash_token(token)
    found = None
    for channel, hashes in tokens_sha256.items():
        for h in hashes:
            if hmac.compare_digest(digest, h):
                found = (channel, digest)
    return found


def split_body(body: bytes, max_events: int, max_depth: int = MAX_JSON_DEPTH) -> list[Any]:
    """JSON bytes -> the list of event objects it carries: one object, an array, or {"events": [...]}."""
    if not body.strip():
        raise Refused(400, "invalid_json", "empty body: send one event object, an array of events or {\"events\": [...]}")
    try:
        doc = parse_json(body, max_depth)
    except BodyRefused as r:
        raise Refused(r.status, r.reason, r.message) from None
    if isinstance(doc, dict) and set(doc) == {"events"}:
        doc = doc["events"]
        if not isinstance(doc, list):
            raise Refused(400, "invalid_json", "\"events\" must be an array of event objects")
    items = doc if isinstance(doc, list) else [doc] if isinstance(doc, dict) else None
    if items is None:
        raise Refused(400, "invalid_json", "body must be one event object, an array of events or {\"events\": [...]}")
    if not items:
        raise Refused(400, "invalid_json", "the batch is empty")
    if len(items) > max_events:
        raise Refused(413, "batch_too_large", f"{len(items)} events in one request; at most {max_events}")
    return items


def field_errors(index: int, item: Any, exc: ValidationError) -> list[dict]:
    """[{index, field, error}], the field path without the union tag pydantic puts first."""
    tag = item.get("event_type") if isinstance(item, dict) else None
    out = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = list(err["loc"])
        if loc and loc[0] == tag:
            loc = loc[1:]
        if err["type"] in ("union_tag_not_found", "union_tag_invalid"):
            loc = ["event_type"]
        out.append({"index": index, "field": ".".join(str(p) for p in loc) or "(event)", "error": err["msg"]})
    return out


def validate_items(items: list[Any], not_after: datetime | None = None) -> list[EventBase]:
    """All or nothing: every item validated as the Kafka path does (JSON mode, strict, and an
    occurred_at no later than `not_after`), or 422 naming each fault."""
    events: list[EventBase] = []
    errors: list[dict] = []
    for i, item in enumerate(items):
        try:
            # JSON-mode validation (strings for UUIDs, timestamps, enums) exactly as a Kafka message is decoded
            event = INPUT_ADAPTER.validate_json(pydantic_core.to_json(item))
        except ValidationError as exc:
            errors.extend(field_errors(i, item, exc))
            continue
        if not_after is not None and event.occurred_at > not_after:  # the worker would dead-letter it
            errors.append({"index": i, "field": "occurred_at", "error": f"later than {not_after.isoformat()} "
                           "(the receiver's clock plus the tolerated skew)"})
        events.append(event)
    if errors:
        bad = len({e["index"] for e in errors})
        raise Refused(422, "schema_violation", f"{bad} of {len(items)} event(s) invalid; nothing was accepted",
                      errors[:MAX_ERRORS], max(0, len(errors) - MAX_ERRORS))
    return events


def check_channels(events: list[EventBase], channel: str) -> None:
    """A token for channel X submits only events of channel X (campaign spend may name none)."""
    errors = []
    for i, ev in enumerate(events):
        ch = getattr(ev, "channel", None)
        if ch is not None and ch.value != channel:
            errors.append({"index": i, "field": "channel",
                           "error": f"this token is for channel {channel!r}, the event says {ch.value!r}"})
    if errors:
        raise Refused(403, "wrong_channel", f"{len(errors)} event(s) of another channel; nothing was accepted",
                      errors[:MAX_ERRORS], max(0, len(errors) - MAX_ERRORS))


# --- the faust pages -------------------------------------------------------------------------------

class EventIngest:
    """State of POST /events in one worker: settings, buckets per token, metrics."""

    def __init__(self, rt, cfg: IngestHttpSettings) -> None:
        self.rt, self.cfg = rt, cfg
        self.max_depth = rt.settings.http.max_json_depth
        self.buckets: dict[str, TokenBucket] = {}  # by token digest: bounded by the configured tokens
        self.ingested = rt.metrics.http_ingested
        self.rejected = rt.metrics.http_rejected

    def bucket(self, digest: str) -> TokenBucket:
        b = self.buckets.get(digest)
        if b is None:
            b = self.buckets[digest] = TokenBucket(self.cfg.rate_per_s, float(self.cfg.burst))
        return b

    async def handle(self, request: Any) -> tuple[int, dict, dict[str, str], str]:
        """-> (status, body, headers, channel label); never raises."""
        channel = "none"
        try:
            found = channel_for_token(bearer(request.headers.get("Authorization")), self.cfg.tokens_sha256)
            if found is None:
                raise Refused(401, "unauthorized", "missing or unknown API token (Authorization: Bearer <token>)",
                              headers={"WWW-Authenticate": "Bearer"})
            channel, digest = found
            bucket = self.bucket(digest)
            wait = bucket.wait_for(1, time.monotonic())
            if wait:  # empty bucket: refuse before spending time on parsing
                raise Refused(429, "rate_limited", f"rate limit of {self.cfg.rate_per_s:g} events/s for this token",
                              headers=retry_after(wait))
            body = await read_body(request, self.cfg.max_body_bytes)
            items = split_body(body, self.cfg.max_batch_events, self.max_depth)
            skew = timedelta(seconds=self.rt.settings.worker.future_tolerance_s)
            events = validate_items(items, datetime.now(timezone.utc) + skew)  # ~35 ms for 1000 orders: not worth a thread
            check_channels(events, channel)
            wait = bucket.take(len(events), time.monotonic())
            if wait:
                raise Refused(429, "rate_limited", f"{len(events)} events exceed the rate limit of "
                              f"{self.cfg.rate_per_s:g} events/s for this token; retry later", headers=retry_after(wait))
            topics = await self.produce(events)
        except (Refused, BodyRefused) as r:  # BodyRefused: encoding, size, time or a client that left mid-body
            self.rejected.labels(channel, r.reason).inc()
            log.info("POST /events refused: %s %s (channel %s)", r.status, r.reason, channel)
            return r.status, r.body(), r.headers, channel
        except Exception as exc:  # a bug must not take the worker down: one line to the client, the trace to the log
            log.exception("POST /events failed")
            self.rejected.labels(channel, "internal_error").inc()
            return 500, {"error": f"internal error ({type(exc).__name__}); nothing was accepted"}, {}, channel
        for ev in events:
            self.ingested.labels(channel, ev.event_type).inc()
        return 202, {"accepted": len(events), "event_ids": [str(ev.event_id) for ev in events],
                     "topics": topics}, {}, channel

    async def produce(self, events: list[EventBase]) -> dict[str, int]:
        """Send each event to the topic and key the Kafka emitter would; wait for the broker's acks."""
        rt = self.rt
        futures, topics = [], {}
        try:
            for ev in events:
                spec = T.TOPIC_FOR_EVENT_TYPE[ev.event_type]
                futures.append(await rt.topic(spec).send(key=partition_key(ev), value=ev.model_dump_json().encode(),
                                                          force=True))
                name = rt.topic_name(spec)
                topics[name] = topics.get(name, 0) + 1
            await asyncio.wait_for(asyncio.gather(*futures), timeout=self.cfg.produce_timeout_s)
        except Exception as exc:  # timeout, broker gone, producer stopped
            log.warning("POST /events: broker did not acknowledge %d event(s): %s", len(events), type(exc).__name__)
            raise Refused(503, "broker_unavailable", "the broker did not acknowledge the events; resend the same "
                          "body (events with the same event_id are recognised, not counted twice)",
                          headers=retry_after(1)) from None
        return topics


def register_pages(rt) -> None:
    from pipeline.openapi import build_openapi

    app = rt.app
    cfg: IngestHttpSettings = rt.settings.ingest_http
    ingest = EventIngest(rt, cfg)
    spec_doc = build_openapi(cfg)

    @app.page("/events")
    class Events(web.View):
        async def post(self, request: web.Request) -> web.Response:
            status, body, headers, _ = await ingest.handle(request)
            return self.json(body, status=status, headers=headers or None)

    @app.page("/openapi.json")
    class OpenApi(web.View):
        async def get(self, request: web.Request) -> web.Response:
            return self.json(spec_doc)
