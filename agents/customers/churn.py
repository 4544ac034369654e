"""Customer rhythm + time since last order + recent negative feedback -> churn risk in [0, 1]."""

from __future__ import annotations

import math
from datetime import datetime

from agents.customers.codec import US_PER_DAY, to_us
from agents.customers.config import ScoringParams


def churn_risk(orders_count: int, mean_gap_days: float | None, last_ts: int, recent_negative: float,
               now: datetime, params: ScoringParams) -> float:
    """0 while the next order is not yet due; 0.5 one own-rhythm overdue, 0.75 two, ...;
    each recent negative feedback (decayed count) shrinks the remaining odds by exp(-negative_weight)."""
    if orders_count == 0:
        base = 0.0
    else:
        gap = max(mean_gap_days if mean_gap_days is not None else params.prior_gap_days, params.min_gap_days)
        since = max(0, to_us(now) - last_ts) / US_PER_DAY
        overdue = max(0.0, since / gap - 1.0)
        base = 1.0 - 0.5 ** overdue
    risk = 1.0 - (1.0 - base) * math.exp(-params.negative_weight * recent_negative)
    return min(1.0, max(0.0, risk))
