"""classified feedback, clock -> cases (SQL, with the feedback's ack), SLA breaches -> incidents.raw; people's
actions read back from SQL."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update

from agents.cases.config import load_cases_config
from agents.cases.core import OPEN, Breach, Case, CaseCore
from agents.cases.store import CASES
from agents.escalation.policy import Policy
from agents.escalation.routing import CustomerLookup
from pipeline import topics as T
from pipeline.runtime import Meta, Runtime, now_utc
from schemas.feedback import ClassifiedFeedback

log = logging.getLogger(__name__)

# ports the composition root fills: the incident key critical feedback raised (None: none), and who is
# told that a customer's case was resolved (the follow-ups capability: a check-in with valuable customers)
IncidentKeyOf = Callable[[ClassifiedFeedback], str | None]
OnResolved = Callable[[str, str, datetime], Awaitable[None]]
# the clocks of the processes writing people's actions (API, CLI, other workers) may differ this much
CLOCK_SKEW = timedelta(seconds=60)
# columns a later feedback may change: what people did (state, responded / resolved, breach) stays as SQL has it
MERGED = ("feedback_count", "last_feedback_at", "feedback_ids", "incident_key", "updated_at")


MARK_PART = 500   # breaches marked per transaction on SQLite


async def _nobody(customer_id: str, what: str, now: datetime) -> None:
    return None


class Cases:
    """This worker's unresolved cases (the feedback partitions it owns), loaded from SQL on assignment."""

    def __init__(self, rt: Runtime, core: CaseCore, customer_context: CustomerLookup | None = None,
                 incident_key_of: IncidentKeyOf | None = None, on_resolved: OnResolved | None = None) -> None:
        self.rt = rt
        self.core = core
        self.customer_context = customer_context
        self.incident_key_of = incident_key_of or (lambda cf: None)
        self.on_resolved: OnResolved = on_resolved or _nobody
        self.partitions: set[int] = set()
        self.since: datetime | None = None  # people's actions read up to here

    async def on_classified(self, cf: ClassifiedFeedback, meta: Meta) -> None:
        if not self.core.needs_case(cf):
            return
        try:
            ctx = await self.customer_context(cf.customer_id) if self.customer_context is not None else None
            change = self.core.on_classified(cf, ctx, meta.partition, self.incident_key_of(cf), now_utc())
        except Exception:  # a case that cannot be made must not cost the feedback its classification
            log.exception("no case for feedback %s", cf.event_id)
            return
        if change is not None:
            self.rt.metrics.cases.labels(change.event, change.case.category).inc()
            self.rt.writer.add(CASES, change.case.row(), source=meta)

    async def load(self, partitions: set[int]) -> None:
        self.core.keep_partitions(partitions)
        new = sorted(partitions - self.partitions)
        self.partitions = set(partitions)
        if not new:
            return
        async with self.rt.engine.connect() as conn:
            if self.since is None:
                # people's actions from the latest write on (the database's times, not this worker's clock)
                self.since = (await conn.execute(select(func.max(CASES.c.updated_at))
                                                 .where(CASES.c.partition.in_(new)))).scalar()
            rows = (await conn.execute(select(CASES).where(CASES.c.partition.in_(new), CASES.c.state.in_(OPEN))))
            for row in rows.mappings():
                self.core.adopt(Case.from_row(row))
        log.info("cases: %d unresolved for partitions %s", len(self.core.open), sorted(partitions))

    async def sync(self) -> None:
        """Responses, resolutions and breaches written since the last look (API, CLI, other workers)."""
        if not self.partitions:
            return
        q = select(CASES).where(CASES.c.partition.in_(sorted(self.partitions)))
        if self.since is not None:
            # a margin for the clocks of the processes that write (API, CLI, other workers): rows read
            # twice change nothing, and a resolution is told once (only a held case leaves)
            q = q.where(CASES.c.updated_at >= self.since - CLOCK_SKEW)
        latest = self.since
        resolved: list[Case] = []
        async with self.rt.engine.connect() as conn:
            for row in (await conn.execute(q)).mappings():
                gone = self.core.refresh(Case.from_row(row))
                if gone is not None:
                    resolved.append(gone)
                latest = row["updated_at"] if latest is None or row["updated_at"] > latest else latest
        self.since = latest
        for case in resolved:
            try:
                await self.on_resolved(case.customer_id, "case", case.resolved_at or now_utc())
            except Exception:  # another capability's failure must not stop the cases
                log.exception("on_resolved failed for case %s", case.case_id)

    async def sweep(self, now: datetime) -> int:
        """Raise each SLA missed by `now` once: the breach is marked by a conditional UPDATE (the case still in a
        state the SLA applies to, that breach not marked yet), so a case someone answered meanwhile, or another
        worker marked, raises nothing. Marks are committed MARK_PART at a time, and the incidents are sent
        after the commit: no database lock is held while the producer is awaited, and the writer's flushes
        go on between parts. A crash between a commit and its sends loses those pages; the breach stays on
        the case (GET /cases, the board)."""
        due = self.core.due(now)
        raised = quiet = 0
        # SQLite has one writer lock for the whole file: marks share a transaction. PostgreSQL locks rows: a
        # transaction holding many case rows deadlocks with the writer upserting the same cases in another
        # order, so each mark is its own statement there (it waits for one row, never holds one another needs)
        step = MARK_PART if self.rt.engine.dialect.name == "sqlite" else 1
        for start in range(0, len(due), step):
            for b in await self._mark(due[start:start + step], now):
                self.core.mark_breached(b, now)
                self.rt.metrics.cases.labels(f"breached_{b.which}", b.case.category).inc()
                raised += 1
                if not self.core.pages(b, now):
                    quiet += 1
                    continue
                incident = self.core.breach_incident(b, now)
                await self.rt.send(T.INCIDENTS_RAW, incident.incident_key, incident)
                log.info("case %s: %s SLA missed (due %s), incident %s", b.case.case_id, b.which,
                         b.due.isoformat(), incident.incident_key)
        if quiet:
            log.info("cases: %d SLA breaches found more than %gh after their due time recorded without paging",
                     quiet, self.core.config.page_breaches_within_hours)
        return raised

    async def _mark(self, part: list[Breach], now: datetime) -> list[Breach]:
        """One conditional UPDATE ... RETURNING per kind of breach in the part: the write lock is held for a
        statement or two, not a statement per case (6,124 breaches of a backlog marked one statement at a time
        kept the writer's process from the SQLite lock: SQL rows p99 7.5-20 s at half the drain rate)."""
        c = CASES.c
        kinds: dict[str, list[Breach]] = {}
        for b in part:
            kinds.setdefault(b.which, []).append(b)
        marked = []
        async with self.rt.engine.begin() as conn:
            # first_response first: a case's resolution breach may follow its first-response one in the same part
            for which, breaches in sorted(kinds.items(), key=lambda kv: kv[0] != "first_response"):
                states = ("open",) if which == "first_response" else OPEN
                before = c.breach.is_(None) if which == "first_response" else or_(c.breach.is_(None),
                                                                                 c.breach == "first_response")
                ids = [b.case.case_id for b in breaches]
                done = {row[0] for row in await conn.execute(
                    update(CASES).where(c.case_id.in_(ids), c.state.in_(states), before)
                    .values(breach=which, escalated_at=now, updated_at=now).returning(c.case_id))}
                # the others: answered, resolved, raised elsewhere, or not written yet (the next sweep looks)
                marked += [b for b in breaches if b.case.case_id in done]
        return marked


def register(rt: Runtime, policy: Policy, customer_context: CustomerLookup | None = None,
             incident_key_of: IncidentKeyOf | None = None, on_resolved: OnResolved | None = None) -> Cases:
    """Classified feedback (`Cases.on_classified`, wired by the composition root) -> cases; a timer per
    `sweep_interval_s` reads people's actions and raises missed SLAs on the worker owning the partition."""
    cfg, calendar = load_cases_config(rt.settings.paths.resolve("cases", "cases.yaml"), policy.config.calendars)
    cases = Cases(rt, CaseCore(cfg, calendar, policy.directory), customer_context, incident_key_of, on_resolved)
    rt.writer.register(CASES, conflict=["case_id"], update=list(MERGED))

    async def _load(assigned) -> None:
        name = rt.topic_name(T.FEEDBACK_RAW)
        await cases.load({tp.partition for tp in assigned if tp.topic == name})

    rt.on_assigned(_load)

    @rt.app.timer(interval=cfg.sweep_interval_s)
    async def _sweep() -> None:
        try:
            await cases.sync()
            await cases.sweep(now_utc())
        except Exception as exc:  # database briefly away: the next tick catches up
            log.warning("cases not swept: %s", exc)

    return cases
