"""The composition root: the capabilities a worker runs, and the ports that connect them.

Adding a capability is a package under agents/ with a `register(rt, ...)` and one line in `wire`.
The runtime (pipeline/) names no capability; capabilities reach each other only through what is
handed in here (import-linter keeps it so: `.importlinter`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agents.board.timeline import TimelineProvider
    from agents.cases.agent import Cases
    from agents.customers.agent import Customers
    from agents.escalation.agent import Escalator
    from agents.feedback.agent import FeedbackCapability
    from agents.followups.agent import FollowUps
    from agents.kpis.agent import Kpis
    from agents.performance.coaching_agent import Coaching
    from agents.receivables.agent import Receivables
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
    kpis: Kpis
    signals: Signals | None = None
    cases: Cases | None = None
    receivables: Receivables | None = None
    followups: FollowUps | None = None
    coaching: Coaching | None = None


def wire(rt: Runtime) -> dict:
    """Register every capability on `rt` and connect their ports; in this order, because handlers of
    one event type run in registration order (a customer's profile takes an incident before the
    escalation chain reads the customer's context)."""
    from agents.board import web as board
    from agents.cases import agent as cases_agent
    from agents.cases import core as cases_core
    from agents.cases import store as cases_store
    from agents.cases import web as cases_web
    from agents.customers import agent as customers_agent
    from agents.customers import web as customers_web
    from agents.escalation import agent as escalation
    from agents.feedback import agent as feedback_agent
    from agents.feedback.incidents import incident_key_of
    from agents.followups import agent as followups_agent
    from agents.followups import store as followups_store
    from agents.ingest import agent as ingest
    from agents.kpis import agent as kpis_agent
    from agents.kpis import web as kpis_web
    from agents.performance import coaching_agent, coaching_web
    from agents.performance import earnings as performance_earnings
    from agents.performance import web as performance_web
    from agents.performance.metrics import coaching_observations
    from agents.performance.targets import load_configured as load_scorecard_targets
    from agents.receivables import agent as receivables_agent
    from agents.receivables import digests as receivables_digests
    from agents.receivables import web as receivables_web
    from agents.signals import agent as signals

    ingest.register(rt)
    customers = customers_agent.register(rt)
    feedback = feedback_agent.register(rt)
    feedback.subscribers.append(customers.on_classified)  # customer feedback figures from classifications
    escalator = escalation.register(rt, customer_context=customers.context)
    customers_web.register_pages(rt, customers, escalator.gate)  # the directory's tokens guard every read
    # follow-ups: customers (and receivables) decide, the followups capability stores, assigns, sweeps and
    # notifies (the FollowUpSink port); resolved incidents and cases of valuable customers raise a check call
    # (the on_resolved port: the escalator's listeners, the cases capability)
    followups = followups_agent.register(rt, escalator.policy.directory, customers.rules, customers.lifecycle,
                                         escalator.gate, customer_context=customers.context)
    customers.sink = followups.sink
    escalator.listeners.append(followups_agent.incident_listener(followups, ignore=(cases_core.CATEGORY,)))
    # cases: negative feedback needing an answer, owned by the customer's rep (the context port) or a
    # department queue; critical feedback's incident key links the case to its incident; a resolved case
    # is told to `cases.on_resolved(customer_id, "case", now)` (the follow-ups' resolved check)
    raise_high = rt.settings.worker.raise_high_feedback
    cases = cases_agent.register(rt, escalator.policy, customer_context=customers.context,
                                 incident_key_of=lambda cf: incident_key_of(cf, raise_high=raise_high),
                                 on_resolved=followups.on_resolved)
    feedback.subscribers.append(cases.on_classified)
    cases_web.register_pages(rt, escalator.gate, escalator.policy.directory)
    kpis = kpis_agent.register(rt, customer_context=customers.context)  # funnel portraits: segment, value band
    # invoiced orders: the rep's follow-up through the follow-ups port (default: the followups row), finance told
    receivables = receivables_agent.register(rt, escalator.policy.directory, followup_sink=followups.sink,
                                             customer_context=customers.context,
                                             rep_team=kpis.targets.rep_team)
    kpis_web.register_pages(rt, escalator.gate, kpis,
                            sections={"receivables": receivables_web.ageing_section(rt.engine, kpis.rates)})
    # scorecards: targets checked at start-up against the directory; a rep's revenue and incentive statement
    # come from the incentives' ledger (payments net of clawbacks: the numbers `incentives statement` prints),
    # the KPI cells' revenue where no plan applies
    directory = escalator.policy.directory
    earnings = performance_earnings.configured(rt.engine, rt.settings.paths, directory, kpis.rates, kpis.targets)
    performance_web.register_pages(
        rt, escalator.gate, directory,
        load_scorecard_targets(rt.settings.paths, directory, kpis.rates.reporting_currency),
        revenue_of=earnings.revenue_of, incentive_of=earnings.incentive_of)
    # after customers and feedback: a complaint's order is in the signals' book before the complaint;
    # target pace and campaign ROI are read from the KPI rollups of the month
    business = signals.register(rt, feedback.subscribers, month_snapshot=kpis.month_snapshot)
    # other capabilities' entries on a customer's timeline: (customer id, n) -> entries (agents/board/timeline.py)
    timeline_providers: list[TimelineProvider] = [lambda cid, n: cases_store.timeline(rt.engine, cid, n)]
    board.register(rt, escalator, timeline_providers)
    # digests to the directory's subscribers; open cases and overdue follow-ups join through `counts` ports
    receivables_digests.register(rt, escalator.policy.directory, receivables.cfg, counts={
        "open_cases": lambda region, team, at: cases_store.open_count(rt.engine, region, team, at),
        "overdue_followups": lambda region, team, at: followups_store.overdue_count(rt.engine, region, team, at)})
    # coaching: reps behind their team peers' median for a while -> items for their lead; the observe port is
    # the scorecards' per-rep metrics over the trailing `window_days` of config/training.yaml
    def observe(at):
        return coaching_observations(rt.engine, at - timedelta(days=coaching.cfg.window_days), at)
    coaching = coaching_agent.register(rt, escalator.policy.directory, observe=observe)
    coaching_web.register_pages(rt, escalator.gate, escalator.policy.directory, coaching.cfg)
    return {"customers": customers, "feedback": feedback, "escalator": escalator, "kpis": kpis, "signals": business,
            "cases": cases, "receivables": receivables, "followups": followups, "coaching": coaching}


def build_worker(settings: Settings, metrics: Metrics | None = None) -> Worker:
    from pipeline.app import create_app

    parts: dict = {}
    rt = create_app(settings, metrics, lambda runtime: parts.update(wire(runtime)))
    return Worker(rt=rt, **parts)
