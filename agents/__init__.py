"""The composition root: the capabilities a worker runs, and the ports that connect them.

Adding a capability is a package under agents/ with a `register(rt, ...)` and one line in `wire`.
The runtime (pipeline/) names no capability; capabilities reach each other only through what is
handed in here (import-linter keeps it so: `.importlinter`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agents.customers.agent import Customers
    from agents.escalation.agent import Escalator
    from agents.feedback.agent import FeedbackCapability
    from agents.signals.agent import Signals
    from pipeline.metrics import Metrics
    from pipeline.runtime import Runtime
    from pipeline.settings import Settings


@dataclass
class Worker:
    """A worker's runtime and the capabilities it runs (tests and commands reach them here)."""

    rt: Runtime
    customers: Customers
    feedback: FeedbackCapability
    escalator: Escalator
    signals: Signals | None = None


def wire(rt: Runtime) -> dict:
    """Register every capability on `rt` and connect their ports; in this order, because handlers of
    one event type run in registration order (a customer's profile takes an incident before the
    escalation chain reads the customer's context)."""
    from agents.board import web as board
    from agents.customers import agent as customers_agent
    from agents.customers import web as customers_web
    from agents.escalation import agent as escalation
    from agents.feedback import agent as feedback_agent
    from agents.ingest import agent as ingest
    from agents.kpis import agent as kpis_agent
    from agents.kpis import web as kpis_web
    from agents.signals import agent as signals

    ingest.register(rt)
    customers = customers_agent.register(rt)
    feedback = feedback_agent.register(rt)
    feedback.subscribers.append(customers.on_classified)  # customer feedback figures from classifications
    escalator = escalation.register(rt, customer_context=customers.context)
    customers_web.register_pages(rt, customers, escalator.gate)  # the directory's tokens guard every read
    rates = kpis_agent.register(rt)
    kpis_web.register_pages(rt, escalator.gate, rates)
    # after customers and feedback: a complaint's order is in the signals' book before the complaint
    business = signals.register(rt, feedback.subscribers, month_snapshot=_month_snapshot(rt, rates))
    board.register(rt, escalator)
    return {"customers": customers, "feedback": feedback, "escalator": escalator, "signals": business}


def _month_snapshot(rt: Runtime, rates):
    """The KPI port of the signals: now -> the company's KpiSnapshot of that month.

    For now it replays the stored order, funnel and spend events (agents.kpis.web.kpi_states), which costs
    as much as GET /kpis; the signals call it once per tick on one worker. The KPI rollups (issue 24,
    item 1) replace it with a read of the month's cells behind the same callable."""
    from agents.kpis import kpi_snapshots, load_targets
    from agents.kpis.web import kpi_states

    targets = load_targets(rt.settings.paths.resolve("targets", "targets.yaml"), rates.reporting_currency)

    async def month(now):
        states = await kpi_states(rt.engine, rates, regions=False)
        return kpi_snapshots(states[None], "month", now, targets, only=now)[0]

    return month


def build_worker(settings: Settings, metrics: Metrics | None = None) -> Worker:
    from pipeline.app import create_app

    parts: dict = {}
    rt = create_app(settings, metrics, lambda runtime: parts.update(wire(runtime)))
    return Worker(rt=rt, **parts)
