"""GET /kpis `competitors`: mentions per competitor and compared in each window, company-wide readers only."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from agents.feedback.agent import mention_rows
from agents.kpis.web import KpiViews
from pipeline.db.engine import make_engine
from pipeline.db.migrate import upgrade
from pipeline.db.models import CompetitorMentionRow
from pipeline.settings import DatabaseSettings
from schemas.events import Channel
from schemas.feedback import ClassifiedFeedback

NOW = datetime(2026, 3, 15, 12, 30, tzinfo=timezone.utc)


def _classified(occurred_at: datetime, mentions: list[tuple[str, str]]) -> ClassifiedFeedback:
    return ClassifiedFeedback(
        event_id=uuid.uuid4(), occurred_at=occurred_at, channel=Channel.web, customer_id="c1", text="x",
        classified_at=occurred_at, language="en", category="pricing", sentiment="negative", sentiment_score=-0.5,
        urgency="normal", confidence={"category": 0.9},
        competitors=tuple({"competitor": c, "compared": k, "term": c, "start": 0, "end": 1} for c, k in mentions))


async def test_mentions_per_window(db_url):
    engine = make_engine(DatabaseSettings(url=db_url))
    await upgrade(engine)
    try:
        rows = [r for cf in (_classified(NOW - timedelta(minutes=5), [("shopfast", "price"), ("jd", "delivery")]),
                             _classified(NOW - timedelta(minutes=10), [("shopfast", "price")]),
                             _classified(NOW - timedelta(days=3), [("shopfast", "general")]))
                for r in mention_rows(cf)]
        async with engine.begin() as conn:
            await conn.execute(CompetitorMentionRow.__table__.insert(), rows)
        views = KpiViews(engine, None, "USD")
        body = await views.answer("*", ("hour", "month", "total"), NOW)
        assert body["competitors"]["hour"] == [{"competitor": "shopfast", "compared": "price", "mentions": 2},
                                               {"competitor": "jd", "compared": "delivery", "mentions": 1}]
        assert {(m["competitor"], m["compared"]): m["mentions"] for m in body["competitors"]["total"]} == {
            ("shopfast", "price"): 2, ("jd", "delivery"): 1, ("shopfast", "general"): 1}
        assert (await views.answer("north", ("total",), NOW))["competitors"] == {"total": []}
    finally:
        await engine.dispose()
