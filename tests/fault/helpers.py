"""What the fault tests share: event volume, figures on stdout, simulated traffic, SQL counts."""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timedelta, timezone

from pipeline.simulate import Simulator
from schemas.events import EventBase
from tests.support.services import metric_value, query


def fault_events(default: int) -> int:
    """Events per fault test: SALESPULSE_FAULT_EVENTS, else the test's default."""
    return int(os.environ.get("SALESPULSE_FAULT_EVENTS", default))


def figures(test: str, **values) -> dict:
    """One `FAULT-FIGURES {json}` line on stdout (collected from `pytest -s`)."""
    line = {"test": test, **{k: round(v, 2) if isinstance(v, float) else v for k, v in values.items()}}
    print("FAULT-FIGURES " + json.dumps(line, sort_keys=True), flush=True)
    return line


def simulated(n: int, seed: int = 7, customers: int = 500, incidents: bool = True) -> list[EventBase]:
    """n mixed events (feedback EN/ZH, orders, incidents, funnel, spend) over the last 30 days."""
    sim = Simulator(seed=seed, customers=customers)
    start = datetime.now(timezone.utc) - timedelta(days=30)
    step = timedelta(days=30) / max(1, n)
    events = [sim.next(start + step * i) for i in range(n)]
    return events if incidents else [e for e in events if e.event_type != "incident"]


def stored_events(db_url: str) -> int:
    return query(db_url, "SELECT count(*) FROM events")[0][0]


def summed(workers, name: str, **labels) -> float:
    """A metric summed over the workers that still answer."""
    total = 0.0
    for w in workers:
        if w.proc is not None and w.proc.poll() is None:
            try:
                total += metric_value(w.metrics(), name, **labels)
            except Exception:  # a worker in the middle of stopping
                pass
    return total


class Clock:
    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def __call__(self) -> float:
        return time.monotonic() - self.t0


def derived_incident_ids(events: list[EventBase]) -> set[str]:
    """Ids of the incidents the feedback agent raises from these events (same code, offline): they
    travel through incidents.raw, so their arrival in SQL shows output topics lost nothing either."""
    from agents.feedback.classifier import Classifier
    from agents.feedback.incidents import incident_for

    clf = Classifier.default()
    out = set()
    for e in events:
        if e.event_type == "feedback":
            result = clf.classify(e.text, language=e.language, rating=e.rating, channel=e.channel.value)
            incident = incident_for(e, result, raise_high=True)
            if incident is not None:
                out.add(str(incident.event_id))
    return out
