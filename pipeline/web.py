"""The worker's HTTP surface: /metrics, /health/live, /health/ready (+ capability pages)."""

from __future__ import annotations

from faust import web
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from pipeline import topics as T
from pipeline.runtime import Runtime


async def readiness(rt: Runtime) -> dict:
    """Broker connected, database reachable, partitions assigned, recovery done."""
    app = rt.app
    checks: dict[str, bool | str] = {}
    try:
        async with rt.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = rt.writer.healthy
        rt.metrics.db_up.set(1 if rt.writer.healthy else 0)
    except Exception as exc:
        checks["database"] = False
        rt.metrics.db_up.set(0)
        checks["database_error"] = f"{type(exc).__name__}"
    consumer = getattr(app, "_consumer", None)
    # every input topic has partitions here (faust co-partitions them, so workers <= partitions)
    inputs = {rt.topic_name(spec) for spec in T.INPUTS}
    checks["partitions_assigned"] = inputs <= {tp.topic for tp in rt.assigned}
    checks["recovery_done"] = bool(getattr(app.tables, "_recovery_started", None) is not None
                                   and not app.rebalancing) if hasattr(app, "tables") else True
    checks["broker_connected"] = consumer is not None and not app.rebalancing
    checks["ready"] = all(v is True for k, v in checks.items() if not k.endswith("_error"))
    return checks


def register_pages(rt: Runtime) -> None:
    app = rt.app

    @app.page("/metrics")
    class Metrics(web.View):
        async def get(self, request: web.Request) -> web.Response:
            return self.bytes(rt.metrics.exposition(), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    @app.page("/health/live")
    class Live(web.View):
        async def get(self, request: web.Request) -> web.Response:
            return self.json({"live": True})

    @app.page("/health/ready")
    class Ready(web.View):
        async def get(self, request: web.Request) -> web.Response:
            checks = await readiness(rt)
            return self.json(checks, status=200 if checks["ready"] else 503)
