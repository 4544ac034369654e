"""Events + a virtual clock -> what the worker would raise and escalate by `until` (in-memory rows, no Kafka, no SQL).

The same decisions as the worker: customers' evaluate_followups after each event and on every sweep of the
book, the sink's new_row (assignment, due per reason), the sweep's wake and overdue."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta

from agents.customers.book import CustomerBook
from agents.customers.config import FollowUpConfig
from agents.customers.followup import evaluate_followups
from agents.customers.replay import Classified
from agents.customers.snapshot import profile_churn
from agents.escalation.directory import Directory
from agents.followups.core import new_row, overdue, wake
from pipeline.currency import Rates
from schemas.events import EventBase, FeedbackEvent, IncidentEvent, OrderEvent


class FollowUpReplay:
    def __init__(self, cfg: FollowUpConfig, directory: Directory, rates: Rates | None = None,
                 sweep_every: timedelta | None = None) -> None:
        self.cfg, self.directory = cfg, directory
        self.book = CustomerBook(cfg.scoring, rates=rates)
        self.rows: dict[str, dict] = {}
        self.every = sweep_every or timedelta(seconds=cfg.lifecycle.sweep_interval_s)

    def _raise(self, tasks, out: list[dict]) -> None:
        lc = self.cfg.lifecycle
        for t in tasks:
            _, row = new_row(t, None, self.directory, lc.due_in_hours(t.reason.value, None))
            if row["event_id"] not in self.rows:   # the worker's upsert on the task id
                self.rows[row["event_id"]] = row
                out.append(line(row, "raised"))

    def _evaluate(self, p, now: datetime, negative: bool = False, sweep: bool = False):
        rfm = self.book.population.score(p.rfm_key())
        return evaluate_followups(p, rfm, profile_churn(p, now, self.cfg.scoring), now, self.cfg.rules, negative,
                                  self.cfg.lifecycle.silent_factor, self.cfg.scoring.min_gap_days, sweep)

    def event(self, e: EventBase, classify: Callable[[FeedbackEvent], Classified]) -> list[dict]:
        out: list[dict] = []
        if isinstance(e, OrderEvent):
            p = self.book.order(e)
            self._raise(self._evaluate(p, e.occurred_at), out)
        elif isinstance(e, FeedbackEvent):
            c = classify(e)
            p, changed = self.book.feedback(e.customer_id, e.event_id, e.occurred_at, c.sentiment_score, c.negative,
                                            c.category)
            if changed:
                self._raise(self._evaluate(p, e.occurred_at, c.negative), out)
        elif isinstance(e, IncidentEvent):
            self.book.incident(e)
        return out

    def sweep(self, now: datetime) -> list[dict]:
        out: list[dict] = []
        for p in list(self.book.profiles.values()):
            if p.orders_count:
                self._raise(self._evaluate(p, now, sweep=True), out)
        for row in self.rows.values():
            if wake(row["state"], row.get("snoozed_until"), now):
                row["state"] = "open"
            if overdue(row["state"], row["due_at"], row.get("escalated_at"), now):
                row["escalated_at"] = now
                out.append(line(row, "escalated"))
        return out

    def run(self, events: Iterable[EventBase], until: datetime | None,
            classify: Callable[[FeedbackEvent], Classified]) -> Iterator[dict]:
        """Events in time order, the book swept every `every` of virtual time from the first event to `until`."""
        ordered = sorted(events, key=lambda e: e.occurred_at)
        if not ordered:
            return
        end = until or ordered[-1].occurred_at
        tick = ordered[0].occurred_at + self.every
        for e in ordered:
            if e.occurred_at > end:
                break
            while tick <= e.occurred_at:
                yield from self.sweep(tick)
                tick += self.every
            yield from self.event(e, classify)
        while tick <= end:
            yield from self.sweep(tick)
            tick += self.every


def line(row: dict, event: str) -> dict:
    return {"customer_id": row["customer_id"], "reason": row["reason"], "owner": row["assignee"],
            "due_at": row["due_at"].isoformat(), "state": row["state"], "event": event, "id": row["event_id"]}
