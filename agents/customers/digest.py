"""Classified feedback records + period -> FeedbackDigest (complaints, sentiment trend, top products per channel / region)."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Literal

from schemas.customers import DigestGroup, FeedbackDigest, ProductMention, stable_id

PERIODS = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
TOP_PRODUCTS = 5


@dataclass(frozen=True, slots=True)
class ClassifiedFeedback:
    event_id: uuid.UUID
    occurred_at: datetime
    customer_id: str
    channel: str
    region: str | None
    sentiment_score: float
    negative: bool
    category: str
    products: tuple[str, ...] = ()      # skus the feedback is about (its order's items, or named in the text)


def _mean(xs: list[float]) -> float | None:
    return round(sum(xs) / len(xs), 4) if xs else None


def _group(cur: list[ClassifiedFeedback], prev: list[ClassifiedFeedback], channel, region) -> DigestGroup:
    mean, before = _mean([r.sentiment_score for r in cur]), _mean([r.sentiment_score for r in prev])
    complaints = Counter(r.category for r in cur if r.negative)
    products = Counter(s for r in cur for s in set(r.products))
    top = sorted(products.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_PRODUCTS]
    return DigestGroup(
        channel=channel, region=region, feedback_count=len(cur), negative_count=sum(r.negative for r in cur),
        mean_sentiment=mean, previous_mean_sentiment=before,
        sentiment_trend=round(mean - before, 4) if mean is not None and before is not None else None,
        complaints=dict(sorted(complaints.items())),
        top_products=tuple(ProductMention(sku=s, count=c) for s, c in top),
    )


def build_digest(records: Iterable[ClassifiedFeedback], period: Literal["hour", "day"],
                 period_start: datetime) -> FeedbackDigest:
    """Records of [start - period, start + period): the first half is only the trend's baseline."""
    length = PERIODS[period]
    end, prev_start = period_start + length, period_start - length
    unique = {r.event_id: r for r in records}.values()
    cur = [r for r in unique if period_start <= r.occurred_at < end]
    prev = [r for r in unique if prev_start <= r.occurred_at < period_start]
    groups = [_group(cur, prev, None, None)]
    for ch in sorted({r.channel for r in cur}):
        groups.append(_group([r for r in cur if r.channel == ch], [r for r in prev if r.channel == ch], ch, None))
    for reg in sorted({r.region for r in cur if r.region is not None}):
        groups.append(_group([r for r in cur if r.region == reg], [r for r in prev if r.region == reg], None, reg))
    return FeedbackDigest(
        event_id=stable_id("digest", period, period_start.isoformat()), occurred_at=end,
        period=period, period_start=period_start, period_end=end, groups=tuple(groups),
    )
