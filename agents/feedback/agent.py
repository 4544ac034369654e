"""feedback.raw -> feedback.classified + SQL, incidents.raw for urgent feedback, corrections from SQL."""

from __future__ import annotations

import logging
import time

from sqlalchemy import select

from agents.feedback.classifier import Classifier
from agents.feedback.incidents import classified_event, incident_for
from pipeline import topics as T
from pipeline.db.models import ClassifiedFeedbackRow, FeedbackCorrection
from pipeline.runtime import Meta, Runtime
from schemas.events import FeedbackEvent
from schemas.feedback import ClassifiedFeedback

log = logging.getLogger(__name__)

CLASSIFIED = ClassifiedFeedbackRow.__table__
CORRECTIONS = FeedbackCorrection.__table__


def classified_row(cf: ClassifiedFeedback) -> dict:
    return {
        "event_id": str(cf.event_id), "customer_id": cf.customer_id, "channel": cf.channel.value,
        "occurred_at": cf.occurred_at, "classified_at": cf.classified_at, "text": cf.text,
        "language": cf.language, "category": cf.category, "sentiment": cf.sentiment,
        "sentiment_score": cf.sentiment_score, "urgency": cf.urgency, "confidence": dict(cf.confidence),
        "evidence": [dict(e) for e in cf.evidence], "needs_review": cf.needs_review, "order_id": cf.order_id,
    }


class FeedbackCapability:
    def __init__(self, rt: Runtime, classifier: Classifier) -> None:
        self.rt = rt
        self.clf = classifier
        self.raise_high = rt.settings.worker.raise_high_feedback
        self.last_correction_id = 0
        self.review_pending = 0

    async def on_feedback(self, event: FeedbackEvent, meta: Meta) -> None:
        m = self.rt.metrics
        started = time.perf_counter()
        result = self.clf.classify(event.text, language=event.language, rating=event.rating,
                                   channel=event.channel.value)
        m.classify_time.observe(time.perf_counter() - started)
        cf = classified_event(event, result, classified_at=meta.received_at)
        m.classified.labels(result.category, result.sentiment, result.urgency, result.language).inc()
        m.sentiment.labels(event.channel.value, result.sentiment).inc()
        if result.needs_review:
            self.review_pending += 1
            m.review_queue.set(self.review_pending)
        self.rt.writer.add(CLASSIFIED, classified_row(cf))
        await self.rt.send(T.FEEDBACK_CLASSIFIED, event.customer_id, cf)
        incident = incident_for(event, result, raise_high=self.raise_high)
        if incident is not None:
            await self.rt.send(T.INCIDENTS_RAW, incident.incident_key, incident)
        for handler in self.rt.handlers.get("classified_feedback", ()):
            await handler(cf, meta)

    async def refresh_corrections(self) -> None:
        """Apply reviewers' corrections stored since the last look (CLI and API write them to SQL)."""
        async with self.rt.engine.connect() as conn:
            rows = (await conn.execute(
                select(CORRECTIONS.c.id, CORRECTIONS.c.text, CORRECTIONS.c.category, CORRECTIONS.c.sentiment,
                       CORRECTIONS.c.urgency).where(CORRECTIONS.c.id > self.last_correction_id)
                .order_by(CORRECTIONS.c.id))).all()
        for cid, text, category, sentiment, urgency in rows:
            try:
                self.clf.apply_correction(text, category=category, sentiment=sentiment, urgency=urgency)
            except Exception as exc:  # one bad row must not stop the others
                log.warning("correction %s not applied: %s", cid, exc)
            self.last_correction_id = cid
        if rows:
            log.info("applied %d feedback corrections", len(rows))


def register(rt: Runtime) -> None:
    path = rt.settings.paths.classifier_dir
    clf = Classifier.from_config(path)  # ConfigError here refuses to start, with the exact problem
    cap = FeedbackCapability(rt, clf)
    rt.extras["feedback"] = cap
    rt.writer.register(CLASSIFIED, conflict=["event_id"],
                       update=[c.name for c in CLASSIFIED.columns if c.name != "event_id"])
    rt.on("feedback", cap.on_feedback)

    @rt.app.timer(interval=5.0)
    async def _corrections() -> None:
        try:
            await cap.refresh_corrections()
        except Exception as exc:  # database briefly away: try again next tick
            log.warning("could not read corrections: %s", exc)
