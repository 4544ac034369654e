"""Readiness stays bounded when the database does not answer; lag series leave with revoked
partitions; failure counters exist at zero before the first failure (issue #6)."""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager
from types import SimpleNamespace

from faust.types import TP
from prometheus_client import CollectorRegistry

from pipeline import topics as T
from pipeline.metrics import Metrics
from pipeline.web import READY_DB_TIMEOUT_S, readiness


class HangingEngine:
    @asynccontextmanager
    async def connect(self):
        await asyncio.sleep(3600)  # a cut network: no answer, no error
        yield None


def fake_runtime(metrics: Metrics, engine) -> SimpleNamespace:
    app = SimpleNamespace(_consumer=object(), rebalancing=False, tables=SimpleNamespace(_recovery_started=True))
    loaded = asyncio.Event()
    loaded.set()   # the partitions' state is loaded: only the database decides readiness here
    return SimpleNamespace(app=app, engine=engine, writer=SimpleNamespace(healthy=True), metrics=metrics,
                           assigned={TP(T.topic_name(s, ""), 0) for s in T.INPUTS}, state_ready=loaded,
                           topic_name=lambda spec: T.topic_name(spec, ""))


async def test_readiness_reports_a_hanging_database_within_its_bound():
    m = Metrics(CollectorRegistry())
    started = time.monotonic()
    checks = await readiness(fake_runtime(m, HangingEngine()))
    took = time.monotonic() - started
    assert checks["database"] is False and checks["ready"] is False
    assert checks["database_error"] == "TimeoutError"
    assert READY_DB_TIMEOUT_S <= took < READY_DB_TIMEOUT_S + 1.0
    assert m.registry.get_sample_value("salespulse_db_up") == 0


async def test_a_worker_still_loading_its_partitions_state_is_not_ready(db_url):
    from pipeline.db.engine import make_engine
    from pipeline.settings import DatabaseSettings

    engine = make_engine(DatabaseSettings(url=db_url))
    try:
        rt = fake_runtime(Metrics(CollectorRegistry()), engine)
        assert (await readiness(rt))["ready"] is True
        rt.state_ready.clear()          # a rebalance: profiles, incidents and KPI facts being loaded
        checks = await readiness(rt)
        assert checks["state_loaded"] is False and checks["ready"] is False
    finally:
        await engine.dispose()


def test_lag_series_of_revoked_partitions_are_removed():
    m = Metrics(CollectorRegistry())
    for p in range(4):
        m.lag.labels("orders", str(p)).set(10 + p)
    m.forget_partitions([TP("orders", 1), TP("orders", 3), TP("funnel", 0)])  # funnel/0 never reported
    lag = lambda p: m.registry.get_sample_value("salespulse_consumer_lag_messages",  # noqa: E731
                                                {"topic": "orders", "partition": str(p)})
    assert [lag(p) for p in range(4)] == [10, None, 12, None]


def test_failure_counters_start_at_zero():
    m = Metrics(CollectorRegistry())
    m.zero_failures(["orders", "feedback.raw"], ["log", "topic", "webhook", "email"])
    get = m.registry.get_sample_value
    assert get("salespulse_events_invalid_total", {"topic": "orders", "reason": "too_large"}) == 0
    assert get("salespulse_events_invalid_total", {"topic": "feedback.raw", "reason": "invalid_utf8"}) == 0
    assert get("salespulse_notification_failures_total", {"channel": "email", "kind": "permanent"}) == 0
    assert get("salespulse_notification_failures_total", {"channel": "webhook", "kind": "transient"}) == 0
    assert get("salespulse_notification_failures_total", {"channel": "*", "kind": "dropped"}) == 0
