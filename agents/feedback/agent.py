"""feedback.raw -> feedback.classified + SQL, incidents.raw for urgent feedback, corrections from SQL."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import select

from agents.feedback.classifier import Classifier
from agents.feedback.core import FeedbackCore
from agents.feedback.pool import Classified, ClassifierProcess, classify_feedback
from pipeline import topics as T
from pipeline.db.models import ClassifiedFeedbackRow, CompetitorMentionRow, FeedbackCorrection
from pipeline.deadletters import dead_letter
from pipeline.runtime import Meta, Runtime
from schemas.deadletter import DeadLetterReason
from schemas.events import FeedbackEvent
from schemas.feedback import ClassifiedFeedback

log = logging.getLogger(__name__)

CLASSIFIED = ClassifiedFeedbackRow.__table__
CORRECTIONS = FeedbackCorrection.__table__
MENTIONS = CompetitorMentionRow.__table__


def classified_row(cf: ClassifiedFeedback) -> dict:
    return {
        "event_id": str(cf.event_id), "customer_id": cf.customer_id, "channel": cf.channel.value,
        "occurred_at": cf.occurred_at, "classified_at": cf.classified_at, "text": cf.text,
        "language": cf.language, "category": cf.category, "sentiment": cf.sentiment,
        "sentiment_score": cf.sentiment_score, "urgency": cf.urgency, "confidence": dict(cf.confidence),
        "evidence": [dict(e) for e in cf.evidence], "needs_review": cf.needs_review, "order_id": cf.order_id,
        "aspects": [dict(a) for a in cf.aspects], "competitors": [dict(m) for m in cf.competitors],
    }


def mention_rows(cf: ClassifiedFeedback) -> list[dict]:
    """One competitor_mentions row per (competitor, compared) of the message (find gives each once)."""
    return [{"event_id": str(cf.event_id), "competitor": m["competitor"], "compared": m["compared"],
             "customer_id": cf.customer_id, "channel": cf.channel.value, "occurred_at": cf.occurred_at,
             "sentiment": cf.sentiment} for m in cf.competitors]


class FeedbackCapability:
    def __init__(self, rt: Runtime, classifier: Classifier, pool: ClassifierProcess | None = None) -> None:
        self.rt = rt
        self.core = FeedbackCore(classifier, raise_high=rt.settings.worker.raise_high_feedback)
        self.pool = pool  # None: classified inline, in the worker's event loop
        self.last_correction_id = 0
        self.review_pending = 0
        # told of each classification once it is applied (the customers' feedback figures): a port the
        # composition root fills, so feedback knows no capability that reads it
        self.subscribers: list[Callable[[ClassifiedFeedback, Meta], Awaitable[None]]] = []

    async def on_feedback(self, event: FeedbackEvent, meta: Meta) -> Callable[[Callable[[], object]], None] | None:
        """Inline: classify and apply now. With the classifier's process: submit, and hand the
        event's ack to the submitted item (the ingest agent calls what this returns)."""
        if self.pool is None:
            await self._apply(event, meta, classify_feedback(self.core, event, meta.received_at))
            return None
        item = self.pool.submit(event, meta, meta.received_at)
        if self.pool.backlog > self.pool.MAX_BACKLOG:  # back-pressure: the process is behind
            await self.pool.settle(backlog=self.pool.MAX_BACKLOG // 2)
        return item.take_ack

    async def _apply(self, event: FeedbackEvent, meta: Meta, out: Classified | str) -> None:
        """A classified message -> metrics, SQL row, feedback.classified, an incident for urgent
        feedback, the subscribers (the customer's feedback figures)."""
        if isinstance(out, str):  # classification failed in the pool: as a failing handler inline
            await self._dead_letter(meta, event, out)
            return
        m = self.rt.metrics
        cf = out.cf
        m.classify_time.observe(out.seconds)
        m.classified.labels(cf.category, cf.sentiment, cf.urgency, cf.language).inc()
        m.sentiment.labels(event.channel.value, cf.sentiment).inc()
        if cf.needs_review:
            self.review_pending += 1
            m.review_queue.set(self.review_pending)
        self.rt.writer.add(CLASSIFIED, classified_row(cf), source=meta)
        for row in mention_rows(cf):
            m.competitor_mentions.labels(m.bounded("competitor", row["competitor"]), row["compared"]).inc()
            self.rt.writer.add(MENTIONS, row, source=meta)
        await self.rt.send(T.FEEDBACK_CLASSIFIED, event.customer_id, out.body)
        if out.incident is not None:
            await self.rt.send(T.INCIDENTS_RAW, out.incident.incident_key, out.incident)
        for subscriber in self.subscribers:
            await subscriber(cf, meta)

    async def apply_from_pool(self, event: FeedbackEvent, meta: Meta, out: Classified | str) -> None:
        """What the ingest agent does for a handler that fails inline, for one that fails here: the
        event goes to the dead-letter topic (its events row, written when it was taken, stays)."""
        try:
            await self._apply(event, meta, out)
        except Exception as exc:  # a bug or poison event must not stop the stream
            log.exception("handler failed on %s:%s:%s", meta.topic, meta.partition, meta.offset)
            await self._dead_letter(meta, event, f"{type(exc).__name__}: {exc}")

    async def _dead_letter(self, meta: Meta, event: FeedbackEvent, detail: str) -> None:

        await dead_letter(self.rt, DeadLetterReason.processing_error, detail, meta, event.customer_id.encode())

    async def refresh_corrections(self) -> None:
        """Apply reviewers' corrections stored since the last look (CLI and API write them to SQL)."""
        async with self.rt.engine.connect() as conn:
            rows = (await conn.execute(
                select(CORRECTIONS.c.id, CORRECTIONS.c.text, CORRECTIONS.c.category, CORRECTIONS.c.sentiment,
                       CORRECTIONS.c.urgency).where(CORRECTIONS.c.id > self.last_correction_id)
                .order_by(CORRECTIONS.c.id))).all()
        for cid, text, category, sentiment, urgency in rows:
            try:
                self.core.correct(text, category=category, sentiment=sentiment, urgency=urgency)
            except Exception as exc:  # one bad row must not stop the others
                log.warning("correction %s not applied: %s", cid, exc)
            else:
                if self.pool is not None:
                    self.pool.correct({"text": text, "category": category, "sentiment": sentiment, "urgency": urgency})
            self.last_correction_id = cid
        if rows:
            log.info("applied %d feedback corrections", len(rows))


def register(rt: Runtime) -> "FeedbackCapability":
    path = rt.settings.paths.classifier_dir
    clf = Classifier.from_config(path)  # ConfigError here refuses to start, with the exact problem
    cap = FeedbackCapability(rt, clf)
    if rt.settings.worker.classifier_process:
        cap.pool = ClassifierProcess(path, cap.core, cap.apply_from_pool, rt.writer.ack_after, rt.metrics)
        rt.writer.before_drain(cap.pool.settle)  # a revoke or shutdown writes what is submitted

        @rt.app.task
        async def _classifier() -> None:
            await cap.pool.run()
    rt.writer.register(CLASSIFIED, conflict=["event_id"],
                       update=[c.name for c in CLASSIFIED.columns if c.name != "event_id"])
    rt.writer.register(MENTIONS, conflict=["event_id", "competitor", "compared"],
                       update=["customer_id", "channel", "occurred_at", "sentiment"])
    rt.metrics.allow("competitor", clf.config.competitors.ids)  # the label's values come from the config
    rt.on("feedback", cap.on_feedback)

    @rt.app.timer(interval=5.0)
    async def _corrections() -> None:
        try:
            await cap.refresh_corrections()
        except Exception as exc:  # database briefly away: try again next tick
            log.warning("could not read corrections: %s", exc)

    return cap
