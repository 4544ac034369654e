"""classified_feedback, competitor_mentions, signal incidents, receivables (SQL), clock -> hourly and daily
digests delivered by email / webhook to the directory's subscribers, each cut to their scope; a
digest_deliveries row per subscriber and period, so nothing is sent twice across restarts."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select

from agents.escalation.directory import Directory, Person
from agents.receivables.config import ReceivablesConfig
from agents.receivables.digest_scope import (
    PERIODS, SUBSCRIPTIONS, Feedback, Mention, Overdue, Scope, Signal, build, period_start, render,
)
from agents.signals.firing import CATEGORY as SIGNAL_KINDS
from pipeline import topics as T
from pipeline.db.models import (
    ClassifiedFeedbackRow, CompetitorMentionRow, CustomerProfileRow, DigestDeliveryRow, IncidentRow, ReceivableRow,
)
from pipeline.notify.notice import Notice, NoticeSender
from pipeline.runtime import Runtime, now_utc
from schemas.customers import stable_id

log = logging.getLogger(__name__)

F, M, P = ClassifiedFeedbackRow.__table__, CompetitorMentionRow.__table__, CustomerProfileRow.__table__
I, R, D = IncidentRow.__table__, ReceivableRow.__table__, DigestDeliveryRow.__table__
SIGNAL_CATEGORIES = sorted(set(SIGNAL_KINDS.values()))
# (region, team, now) -> a count for that scope (open cases, overdue follow-ups), from another capability
ScopeCount = Callable[[str | None, str | None, datetime], Awaitable[int]]


class DigestDelivery:
    """Delivers the last complete hour's and day's digests to every subscriber not yet served."""

    def __init__(self, rt: Runtime, directory: Directory, cfg: ReceivablesConfig, sender: NoticeSender,
                 counts: dict[str, ScopeCount] | None = None) -> None:
        self.rt, self.directory, self.cfg, self.sender = rt, directory, cfg, sender
        self.counts = counts or {}
        self.sent: set[tuple[str, str, datetime]] = set()

    def team_of(self, rep: str | None) -> str | None:
        person = self.directory.person(rep)
        return person.team if person is not None else None

    def subscribers(self, period: str) -> list[Person]:
        # only those this worker can reach (no SMTP configured: email-only subscribers wait, unmarked)
        return [p for p in self.directory.people if any(SUBSCRIPTIONS[d] == period for d in p.digests)
                and self.sender.channels(p.target())]

    async def _delivered(self, period: str, start: datetime) -> set[str]:
        async with self.rt.engine.connect() as conn:
            rows = (await conn.execute(select(D.c.subscriber).where(D.c.period == period,
                                                                    D.c.period_start == start))).all()
        return {r[0] for r in rows} | {s for s, p, t in self.sent if p == period and t == start}

    async def _facts(self, period: str, start: datetime) -> tuple[list, list, list, list]:
        """Everything a period's digests need, counted in SQL per region, owner rep and kind: its cost grows
        with those, not with the messages."""
        length = PERIODS[period]
        end = start + length
        owner, region = P.c.snapshot["owner_rep_id"].as_string(), P.c.snapshot["region"].as_string()
        current = (F.c.occurred_at >= start).label("current")
        negative = (F.c.sentiment == "negative").label("negative")
        async with self.rt.engine.connect() as conn:
            fb = (await conn.execute(
                select(current, region, owner, negative, F.c.category, func.count(), func.sum(F.c.sentiment_score))
                .join(P, P.c.customer_id == F.c.customer_id, isouter=True)
                .where(F.c.occurred_at >= start - length, F.c.occurred_at < end)
                .group_by(current, region, owner, negative, F.c.category))).all()
            mentions = (await conn.execute(
                select(M.c.competitor, owner, region, func.count()).join(P, P.c.customer_id == M.c.customer_id,
                                                                       isouter=True)
                .where(M.c.occurred_at >= start, M.c.occurred_at < end).group_by(M.c.competitor, owner, region))).all()
            signals = (await conn.execute(
                select(I.c.incident_key, I.c.category, I.c.severity, I.c.title, I.c.region)
                .where(I.c.category.in_(SIGNAL_CATEGORIES), I.c.first_seen >= start, I.c.first_seen < end))).all()
            overdue = (await conn.execute(select(R.c.region, R.c.team, func.count()).where(
                and_(R.c.state == "open", R.c.due_at < end)).group_by(R.c.region, R.c.team))).all()
        return ([Feedback(bool(cur), reg, self.team_of(rep), bool(neg), cat, n, float(total or 0.0))
                 for cur, reg, rep, neg, cat, n, total in fb],
                [Mention(c, reg, self.team_of(rep), n) for c, rep, reg, n in mentions],
                [Signal(k, c, sev, t, reg, None) for k, c, sev, t, reg in signals],
                [Overdue(reg, team, n) for reg, team, n in overdue])

    async def run(self, now: datetime) -> int:
        """Digests sent by this call (one per subscriber and period at most, ever)."""
        sent = 0
        settled = now - timedelta(minutes=self.cfg.digests.delay_minutes)
        for period in PERIODS:
            start = period_start(settled, period)
            subs = self.subscribers(period)
            done = await self._delivered(period, start) if subs else set()
            todo = [p for p in subs if p.id not in done]
            if not todo:
                continue
            feedback, mentions, signals, overdue = await self._facts(period, start)
            for person in todo:
                scope = Scope.of(person)
                counts = {name: await count(scope.region, scope.team, start + PERIODS[period])
                          for name, count in self.counts.items()}
                content = build(period, start, scope, feedback, mentions, signals, overdue, counts, self.cfg.digests.top)
                subject, text = render(content, scope)
                notice = Notice(stable_id("digest", person.id, period, start.isoformat()), "digest", subject, text,
                                content)
                channels = await self.sender.send(notice, person.target())
                for channel in channels:
                    self.rt.metrics.notices_sent.labels("digest", channel).inc()
                if channels:
                    self.sent.add((person.id, period, start))
                    self.rt.writer.add(D, {"subscriber": person.id, "period": period, "period_start": start,
                                           "channel": ",".join(channels)[:16], "delivered_at": now})
                    sent += 1
        return sent


def register(rt: Runtime, directory: Directory, cfg: ReceivablesConfig,
             counts: dict[str, ScopeCount] | None = None) -> DigestDelivery:
    """The worker holding feedback.raw partition 0 delivers (one sender at a time); the markers in SQL keep a
    new sender from repeating what an earlier one delivered. `counts`: ports giving open cases and overdue
    follow-ups of a scope (absent: left out of the digest)."""
    from agents.receivables.agent import notice_sender

    rt.writer.register(D, conflict=["subscriber", "period", "period_start"])
    job = DigestDelivery(rt, directory, cfg, notice_sender(rt), counts)

    @rt.app.timer(interval=cfg.digests.check_interval_s)
    async def _deliver() -> None:
        feedback = rt.topic_name(T.FEEDBACK_RAW)
        if not rt.state_ready.is_set() or not any(tp.topic == feedback and tp.partition == 0 for tp in rt.assigned):
            return
        try:
            await job.run(now_utc())
        except Exception as exc:  # the database briefly away: the next tick delivers
            log.warning("digests not delivered: %s", exc)

    @rt.app.on_before_shutdown.connect
    async def _close(app, **kwargs) -> None:
        await job.sender.aclose()

    return job
