"""The worker's HTTP surface: /metrics (own listener if configured), /health/live, /health/ready (+ capability pages)."""

from __future__ import annotations

import asyncio

from aiohttp import web as aioweb
from faust import web
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from pipeline import topics as T
from pipeline.http import limited_runner
from pipeline.runtime import Runtime

READY_DB_TIMEOUT_S = 2.0  # a database that does not answer (network cut) must not hang the probe


async def _select_one(rt: Runtime) -> None:
    async with rt.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


def broker_connected(rt: Runtime) -> bool:
    """The worker is in the group and its consumer holds a live connection to the cluster."""
    app = rt.app
    consumer = getattr(app, "_consumer", None)
    return consumer is not None and not app.rebalancing and _broker_reachable(consumer)


def _broker_reachable(consumer) -> bool:
    """The consumer holds a live connection to the cluster. It fetches every few ms and heartbeats
    every 2 s, so no live connection means the broker is down or cut off (without this check a
    stopped broker leaves readiness at 200). Read from aiokafka's client; an unknown layout does not fail readiness."""
    try:
        conns = list(consumer._thread._consumer._client._conns.values())
    except AttributeError:
        return True
    return any(c.connected() for c in conns)


async def readiness(rt: Runtime) -> dict:
    """Broker connected, database reachable, partitions assigned, recovery done, their state loaded."""
    app = rt.app
    checks: dict[str, bool | str] = {}
    try:
        await asyncio.wait_for(_select_one(rt), READY_DB_TIMEOUT_S)
        checks["database"] = rt.writer.healthy
        rt.metrics.db_up.set(1 if rt.writer.healthy else 0)
    except Exception as exc:
        checks["database"] = False
        rt.metrics.db_up.set(0)
        checks["database_error"] = f"{type(exc).__name__}"
    # every input topic has partitions here (faust co-partitions them, so workers <= partitions)
    inputs = {rt.topic_name(spec) for spec in T.INPUTS}
    checks["partitions_assigned"] = inputs <= {tp.topic for tp in rt.assigned}
    checks["recovery_done"] = bool(getattr(app.tables, "_recovery_started", None) is not None
                                   and not app.rebalancing) if hasattr(app, "tables") else True
    checks["broker_connected"] = broker_connected(rt)
    # the capabilities' state of the assigned partitions is loaded (no event waits for it)
    checks["state_loaded"] = rt.state_ready.is_set()
    checks["ready"] = all(v is True for k, v in checks.items() if not k.endswith("_error"))
    return checks


def register_pages(rt: Runtime) -> None:
    app = rt.app
    rt.metrics.zero_failures([rt.topic_name(s) for s in (*T.INPUTS, T.INCIDENT_COMMANDS)], [])

    @app.on_partitions_revoked.connect
    async def _forget_lag(app, revoked, **kwargs) -> None:
        # the lag timer must not report partitions another worker owns now
        rt.assigned = rt.assigned - set(revoked)
        rt.metrics.forget_partitions(revoked)

    def exposition(request) -> bytes:
        return rt.metrics.exposition(request.query.getall("name[]", []))  # a subset, as prometheus_client serves

    metrics_port = rt.settings.web.metrics_port

    @app.page("/metrics")
    class Metrics(web.View):
        async def get(self, request: web.Request) -> web.Response:
            if metrics_port is not None:
                return self.json({"error": "/metrics is served on the metrics listener "
                                           "(SALESPULSE_WEB__METRICS_PORT), not on the API port"}, status=404)
            return self.bytes(exposition(request), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    if metrics_port is not None:
        _metrics_listener(rt, exposition)

    @app.page("/health/live")
    class Live(web.View):
        async def get(self, request: web.Request) -> web.Response:
            return self.json({"live": True})

    @app.page("/health/ready")
    class Ready(web.View):
        async def get(self, request: web.Request) -> web.Response:
            checks = await readiness(rt)
            return self.json(checks, status=200 if checks["ready"] else 503)


def _metrics_listener(rt: Runtime, exposition) -> None:
    """/metrics alone on SALESPULSE_WEB__METRICS_HOST:__METRICS_PORT, in the worker's event loop (a worker
    whose loop is stuck then fails its scrape, as SalesPulseWorkerDown expects)."""
    app, s = rt.app, rt.settings.web

    async def metrics(request: aioweb.Request) -> aioweb.Response:
        return aioweb.Response(body=exposition(request), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    server = aioweb.Application()
    server.router.add_get("/metrics", metrics)
    runner = limited_runner(server, rt.settings.http)  # the API port's timeouts, cap and answer headers

    @app.task
    async def _serve_metrics() -> None:
        await runner.setup()
        await aioweb.TCPSite(runner, s.metrics_host, s.metrics_port).start()

    @app.on_before_shutdown.connect
    async def _stop_metrics(app, **kwargs) -> None:
        await runner.cleanup()
