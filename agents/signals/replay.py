"""Input events (in file order) + now -> the Firings the worker would raise by then: the offline driver of SignalsCore.

Feedback is classified by the worker's FeedbackCore, orders feed the signals' order book and, with funnel
and spend events, an in-memory KpiState for pace and ROI. Events after `now` have not happened yet and
are left out. Pace and ROI are judged once, at `now` (the worker judges them every tick).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from agents.feedback.core import FeedbackCore
from agents.signals.core import SignalsCore
from agents.signals.firing import Firing
from agents.signals.kpi import OfflineFigures
from schemas.events import CampaignSpendEvent, EventBase, FeedbackEvent, FunnelEvent, OrderEvent


def replay(events: Iterable[EventBase], now: datetime, core: SignalsCore, feedback: FeedbackCore,
           figures: OfflineFigures | None) -> list[Firing]:
    out: list[Firing] = []
    for e in events:
        if e.occurred_at > now:
            continue
        if isinstance(e, OrderEvent):
            core.order(e)
        if isinstance(e, (OrderEvent, FunnelEvent, CampaignSpendEvent)) and figures is not None:
            figures.add(e)
        elif isinstance(e, FeedbackEvent):
            out += core.feedback(feedback.process(e, e.occurred_at).classified)
    if figures is not None:
        out += core.kpis(figures.month_now(now), now)
    return out
