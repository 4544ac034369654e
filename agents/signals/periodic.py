"""The month's KpiSnapshot + now -> Firings for teams and reps behind target pace and campaigns below their ROI floor."""

from __future__ import annotations

from datetime import datetime, timezone

from agents.signals.config import SignalsConfig
from agents.signals.firing import Firing
from schemas.customers import KpiSnapshot


def month_start(now: datetime) -> datetime:
    u = now.astimezone(timezone.utc)
    return u.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def pace_firings(snap: KpiSnapshot, now: datetime, cfg: SignalsConfig) -> list[Firing]:
    """Behind pace = actual / expected-to-date under the floor, once the month is `after_day` days old
    (earlier, a few orders more or less swing the pace too much to page anyone)."""
    t = cfg.target_pace
    if not t.enabled or now.astimezone(timezone.utc).day < t.after_day:
        return []
    out = []
    for row in snap.targets:
        if row.kind not in t.kinds or row.pace is None or row.pace >= t.pace_floor:
            continue
        out.append(Firing(
            kind="target_pace", subject=f"{row.kind}:{row.id}", at=now, window_start=month_start(now),
            severity=t.severity, team=row.team,
            title=f"{row.kind} {row.id} behind target pace: {row.pace:.0%} of the expected "
                  f"{row.expected_to_date} to date (floor {t.pace_floor:.0%})",
            evidence={"actual": float(row.actual), "expected_to_date": float(row.expected_to_date),
                      "target": float(row.target), "pace": row.pace, "elapsed": row.elapsed,
                      "pace_floor": t.pace_floor, "currency": snap.currency}))
    return out


def roi_firings(snap: KpiSnapshot, now: datetime, cfg: SignalsConfig) -> list[Firing]:
    """ROI under the floor once the month's spend passed the minimum: before that, too little money has
    moved for attributed revenue to have caught up."""
    c = cfg.campaign_roi
    if not c.enabled:
        return []
    out = []
    for row in snap.campaigns:
        if row.roi is None or float(row.spend) < c.min_spend or row.roi >= c.roi_floor:
            continue
        out.append(Firing(
            kind="campaign_roi", subject=f"campaign:{row.campaign_id}", at=now, window_start=month_start(now),
            severity=c.severity,
            title=f"campaign {row.campaign_id}: ROI {row.roi:+.0%} after {row.spend} spent this month "
                  f"(floor {c.roi_floor:+.0%})",
            evidence={"spend": float(row.spend), "attributed_revenue": float(row.attributed_revenue),
                      "orders": row.orders, "roi": row.roi, "roi_floor": c.roi_floor, "min_spend": c.min_spend,
                      "currency": snap.currency}))
    return out
