"""Hypothesis-generated, schema-valid-looking events with extreme values (times at the calendar's
edges with extreme offsets, the largest amounts and quantities, long mixed scripts, every optional
field), produced straight to the input topics with all four codecs, through a real worker and
database: each one is stored or dead-lettered with the reason the decoder gives offline, the
worker stays ready, a canary sent after them is stored within 10 s, and /kpis and the customer
view still answer 200. A reused event_id with other content is dead-lettered as
conflicting_duplicate. Runs on both CI tiers (Tansu + SQLite, Apache Kafka + PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone

import httpx
import pytest
import yaml
from aiokafka import AIOKafkaProducer
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from agents.escalation.auth import hash_token
from pipeline import topics as T
from pipeline.decode import Rejected, decode
from schemas.events import Channel, FunnelStage, OrderStatus, Severity
from tests.fault.helpers import figures
from tests.support.factories import make_order
from tests.support.services import ROOT, WorkerProcess, database_url, query, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

MAX_BYTES = 256_000           # the worker's default max_event_bytes
TOLERANCE = timedelta(hours=1)  # the worker's default future_tolerance_s
CODECS = ("gzip", "snappy", "lz4", "zstd")
NOW = datetime.now(timezone.utc)
TOTALS: Counter = Counter()   # over every example of the run, for the closing figures

# --- strategies: raw JSON objects, not models (a model would refuse what the worker must meet) ---

SCRIPTS = ["Lieferung kam zu spät", "配送太慢了，客服也不回复", "配送太慢了，客服也不回覆", "😡📦💥",
           "שירות גרוע", "تأخر التوصيل", "é́́ combining", "\u200b\u200f\u202e reversed", "Ωμέγα", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢"]
text = st.lists(st.sampled_from(SCRIPTS), min_size=1, max_size=8).map(" ".join) | \
    st.builds(lambda chunk, n: (chunk * n)[:10_000], st.sampled_from(SCRIPTS), st.integers(1, 3000))
ident = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=128) \
    .filter(str.strip) | st.sampled_from(["c-1", "顾客-七", "x" * 128])


def iso(dt_fields: tuple[int, int, int, int, int, int, int], offset_min: int) -> str:
    y, mo, d, h, mi, s, us = dt_fields
    sign = "+" if offset_min >= 0 else "-"
    return f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}.{us:06d}{sign}{abs(offset_min) // 60:02d}:{abs(offset_min) % 60:02d}"


offsets = st.sampled_from([-14 * 60, 14 * 60, -12 * 60, 0, 5 * 60 + 45, -(9 * 60 + 30)]) | st.integers(-14 * 60, 14 * 60)
edge_years = st.sampled_from([1, 2, 1969, 1970, 2199, 2200, 9998, 9999])
fields = st.tuples(edge_years | st.integers(1, 9999), st.integers(1, 12), st.integers(1, 28), st.integers(0, 23),
                   st.integers(0, 59), st.integers(0, 59), st.integers(0, 999_999))
# times clear of the future-tolerance boundary, so the offline verdict is the worker's too
recent = st.floats(-5 * 365 * 86400, 30 * 60).map(lambda s: (NOW + timedelta(seconds=s)).isoformat())
far_future = st.floats(2 * 3600, 100 * 365 * 86400).map(lambda s: (NOW + timedelta(seconds=s)).isoformat())
edges = st.sampled_from(["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "1970-01-01T00:00:00+14:00",
                         "1970-01-01T00:00:00+00:00", "2199-12-31T23:59:59.999999+00:00", "2200-01-01T00:00:00+00:00"])
when = recent | recent | edges | far_future | st.builds(iso, fields, offsets)
amount = st.sampled_from(["0", "0.0001", "999999999999.9999", "1000000000000", "99999999999999.9999"]) | \
    st.decimals(0, 10**13, places=4, allow_nan=False).map(str) | st.sampled_from([0, 999_999_999_999, 1e12])
quantity = st.sampled_from([1, 1_000_000, 1_000_001]) | st.integers(1, 1_000_000)
region = st.sampled_from(["north", "south", "east", "west"]) | ident.map(lambda s: s[:64])
currency = st.sampled_from(["EUR", "USD", "CNY", "JPY", "XTS", "ZZZ", "QQQ"])


def base(kind: str) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries({"event_id": st.uuids().map(str), "event_type": st.just(kind), "schema_version": st.just(1),
                                  "occurred_at": when})


feedback = st.builds(lambda b, ch, c, t, r, lang, oid: b | {"channel": ch, "customer_id": c, "text": t, "rating": r,
                                                              "language": lang, "order_id": oid},
                     base("feedback"), st.sampled_from([c.value for c in Channel]), ident, text, st.integers(1, 5),
                     st.sampled_from(["en", "zh", "zh-Hant", "de", "ar"]), ident)
item = st.fixed_dictionaries({"sku": ident, "category": ident.map(lambda s: s[:64]), "quantity": quantity,
                              "unit_price": amount})
order = st.builds(lambda b, ch, c, oid, stt, amt, cur, items, camp, rep, reg: b | {
    "channel": ch, "customer_id": c, "order_id": oid, "status": stt, "amount": amt, "currency": cur, "items": items,
    "campaign_id": camp, "sales_rep_id": rep, "region": reg},
    base("order"), st.sampled_from([c.value for c in Channel]), ident, ident, st.sampled_from([s.value for s in OrderStatus]),
    amount, currency, st.lists(item, max_size=5), ident, ident, region)
incident = st.builds(lambda b, ch, c, key, sev, cat, title, desc, reg, sku: b | {
    "channel": ch, "customer_id": c, "incident_key": key, "severity": sev, "category": cat, "title": title,
    "description": desc, "region": reg, "sku": sku},
    base("incident"), st.sampled_from([c.value for c in Channel]), ident, ident, st.sampled_from([s.value for s in Severity]),
    st.sampled_from(["product_safety", "delivery", "fraud"]), text.map(lambda s: s[:500]), text, region, ident)
funnel = st.builds(lambda b, ch, c, opp, stage, rep, reg: b | {"channel": ch, "customer_id": c, "opportunity_id": opp,
                                                               "stage": stage, "sales_rep_id": rep, "region": reg},
                   base("funnel"), st.sampled_from([c.value for c in Channel]), ident, ident,
                   st.sampled_from([s.value for s in FunnelStage]), ident, region)
spend = st.builds(lambda b, camp, amt, cur, start, end: b | {"channel": "social", "campaign_id": camp, "amount": amt,
                                                             "currency": cur, "period_start": start, "period_end": end},
                  base("campaign_spend"), ident, amount, currency, when, when)
events = st.lists(st.one_of(feedback, order, incident, funnel, spend), min_size=20, max_size=40)


def poison(**kw) -> dict:
    """The findings' own examples, always run."""
    return json.loads(make_order(**{"customer_id": f"poison-{uuid.uuid4().hex[:6]}", **kw}).model_dump_json())


KNOWN = [poison() | {"occurred_at": "9999-12-31T23:59:59-14:00"},
         poison() | {"occurred_at": "0001-01-01T00:00:00+14:00"},
         poison() | {"amount": "99999999999999.9999"},
         poison() | {"amount": "999999999999.9999"},
         poison() | {"currency": "QQQ", "region": "atlantis"},
         poison() | {"occurred_at": (NOW + timedelta(days=400)).isoformat()}]


# --- the worker, once for the module ---------------------------------------------------------------

@pytest.fixture(scope="module")
def hostile(broker, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    run = uuid.uuid4().hex[:8]
    directory = yaml.safe_load((ROOT / "config" / "directory.yaml").read_text())
    director = next(p for p in directory["people"] if p["role"] == "director")
    token = f"tok-hostile-{run}"
    director["token_sha256"] = hash_token(token)
    (tmp / "directory.yaml").write_text(yaml.safe_dump(directory))
    db = database_url(tmp)
    w = WorkerProcess(broker_url=broker.url, flavour=broker.kind, database_url=db, app_id=f"sp-{run}",
                      topic_prefix=f"t{run}.", tmp=tmp, extra_env={"SALESPULSE_PATHS__DIRECTORY": str(tmp / "directory.yaml")})
    w.start()
    w.wait_ready()
    yield w, db, f"t{run}.", {"Authorization": f"Bearer {token}"}
    w.stop()
    print(f"----- worker log (tail) -----\n{w.log_tail(6000)}")


def expected(raw: bytes, spec: T.TopicSpec, sent_at: datetime) -> str | None:
    """None when the worker stores it, else the dead-letter reason it must give."""
    types = frozenset(t for t, s in T.TOPIC_FOR_EVENT_TYPE.items() if s == spec)
    out = decode(raw, expected_types=types, max_bytes=MAX_BYTES, not_after=sent_at + TOLERANCE)
    return out.reason.value if isinstance(out, Rejected) else None


async def produce(bootstrap: str, prefix: str, batch: list[tuple[T.TopicSpec, bytes, bytes]],
                  ordered: bool = False) -> None:
    """Each message with one of the four codecs in turn, by aiokafka's producer (cramjam codecs).
    One producer per codec: their batches reach the broker in any order unless `ordered`, which
    waits for each message's acknowledgement before sending the next."""
    producers = {c: AIOKafkaProducer(bootstrap_servers=bootstrap, compression_type=c, linger_ms=5) for c in CODECS}
    for p in producers.values():
        await p.start()
    try:
        sent = []
        for i, (spec, key, raw) in enumerate(batch):
            sent.append(await producers[CODECS[i % 4]].send(T.topic_name(spec, prefix), key=key, value=raw))
            if ordered:
                await sent[-1]
        await asyncio.gather(*sent)
    finally:
        for p in producers.values():
            await p.stop()


# no shrinking: each step would be a round through the worker; the failing batch is printed as drawn
@settings(max_examples=8, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.large_base_example])
@example(batch=KNOWN)
@given(batch=events)
def test_hostile_events_are_stored_or_dead_lettered_and_the_pipeline_goes_on(hostile, broker, batch):
    worker, db, prefix, auth = hostile
    sent_at = datetime.now(timezone.utc)
    messages, want = [], {}
    for ev in batch:
        ev = ev | {"event_id": str(uuid.uuid4())}  # examples share ids across runs; a reuse is the next test's case
        raw = json.dumps(ev, ensure_ascii=bool(len(messages) % 2)).encode()
        spec = T.TOPIC_FOR_EVENT_TYPE[ev["event_type"]]
        key = str(ev.get("customer_id") or ev.get("campaign_id") or "k").encode()[:512]
        messages.append((spec, key, raw))
        want[raw] = expected(raw, spec, sent_at)
    asyncio.run(produce(broker.bootstrap, prefix, messages))
    canary = make_order(customer_id=f"canary-{uuid.uuid4().hex[:8]}", occurred_at=datetime.now(timezone.utc))
    canary_sent = time.monotonic()
    asyncio.run(produce(broker.bootstrap, prefix, [(T.ORDERS, canary.customer_id.encode(),
                                                    canary.model_dump_json().encode())]))
    wait_until(lambda: query(db, "SELECT 1 FROM events WHERE event_id = :e", e=str(canary.event_id)), timeout=10,
               interval=0.1, message="the canary sent after the hostile events is stored within 10 s")
    canary_s = time.monotonic() - canary_sent

    ids = {json.loads(raw)["event_id"]: raw for raw in want}

    def outcomes() -> dict[bytes, str | None] | None:
        stored = {r[0] for r in query(db, "SELECT event_id FROM events")}
        letters = {bytes(v): reason for v, reason in query(db, "SELECT value, reason FROM dead_letters")}
        got = {}
        for event_id, raw in ids.items():
            if raw in letters:
                got[raw] = letters[raw]
            elif event_id in stored:
                got[raw] = None
            else:
                return None
        return got

    got = wait_until(outcomes, timeout=60, interval=0.5, message="every hostile event stored or dead-lettered")
    for raw, reason in got.items():
        # a row the database refuses is dead-lettered with its message: the pipeline's other answer
        assert reason == want[raw] or (want[raw] is None and reason == "storage_error"), (raw[:300], reason, want[raw])
    assert httpx.get(worker.base_url + "/health/ready", timeout=5).status_code == 200
    assert httpx.get(worker.base_url + "/kpis?window=month,total", headers=auth, timeout=30).status_code == 200
    customer = httpx.get(f"{worker.base_url}/customers/{canary.customer_id}", headers=auth, timeout=30)
    assert customer.status_code == 200, customer.text
    TOTALS.update({"generated": len(batch), "stored": sum(r is None for r in got.values())})
    TOTALS.update(f"dead_lettered:{r}" for r in got.values() if r is not None)
    TOTALS["canary_max_ms"] = max(TOTALS["canary_max_ms"], round(canary_s * 1000))


def test_a_reused_event_id_with_other_content_is_dead_lettered_as_conflicting(hostile, broker):
    worker, db, prefix, _ = hostile
    first = make_order(customer_id=f"alice-{uuid.uuid4().hex[:6]}", occurred_at=datetime.now(timezone.utc))
    other = first.model_copy(update={"customer_id": f"mallory-{uuid.uuid4().hex[:6]}"})
    batch = [(T.ORDERS, first.customer_id.encode(), first.model_dump_json().encode()),
             (T.ORDERS, first.customer_id.encode(), first.model_dump_json().encode()),  # a redelivery: dropped
             (T.ORDERS, first.customer_id.encode(), other.model_dump_json().encode())]  # same partition, in order
    asyncio.run(produce(broker.bootstrap, prefix, batch, ordered=True))
    letters = wait_until(lambda: query(db, "SELECT reason, detail FROM dead_letters WHERE value = :v",
                                       v=other.model_dump_json().encode()), timeout=30, message="conflict dead-lettered")
    assert letters[0][0] == "conflicting_duplicate" and str(first.event_id) in letters[0][1]
    assert query(db, "SELECT customer_id FROM events WHERE event_id = :e", e=str(first.event_id)) == [(first.customer_id,)]
    assert query(db, "SELECT count(*) FROM dead_letters WHERE value = :v", v=first.model_dump_json().encode()) == [(0,)]
    TOTALS["dead_lettered:conflicting_duplicate"] += 1
    figures("hostile_input", broker=broker.kind, database=db.split(":", 1)[0], **dict(sorted(TOTALS.items())))
