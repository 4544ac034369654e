"""Orders, classified feedback, the month's KPIs + now -> Firings: the one core of `signals replay` and the worker.

Pure: no clock, no network, no SQL. Complaints and negative shares run on event time (each feedback's
occurred_at), so the worker and replay count the same buckets whatever their wall clocks say; pace and
ROI are judged at the `now` of a tick.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from agents.signals.config import SignalsConfig
from agents.signals.firing import Firing
from agents.signals.orders import OrderBook
from agents.signals.periodic import pace_firings, roi_firings
from agents.signals.rates import Buckets, Regions, rate_rise, share_rise
from schemas.customers import KpiSnapshot
from schemas.events import OrderEvent
from schemas.feedback import ClassifiedFeedback


def is_complaint(cf: ClassifiedFeedback) -> bool:
    """A complaint is negative classified feedback (as in profiles' complaints_by_category and digests)."""
    return cf.sentiment == "negative"


class SignalsCore:
    def __init__(self, cfg: SignalsConfig) -> None:
        self.cfg = cfg
        self.orders = OrderBook(timedelta(days=cfg.order_horizon_days), cfg.max_orders)
        self.complaints = Buckets(cfg.bucket_minutes, cfg.complaints)
        self.shares = Buckets(cfg.bucket_minutes, cfg.negative_share)
        self.regions = Regions()
        # incident keys already raised for periodic signals (their window is the month): not twice
        self.raised: set[str] = set()

    def reset(self) -> None:
        """Forget the counts (a new set of partitions: rates before and after are not comparable, and a
        baseline of fewer customers would make every subject look busier). Orders and raised keys stay."""
        self.complaints.reset()
        self.shares.reset()
        self.regions = Regions()

    def order(self, e: OrderEvent) -> None:
        self.orders.add(e)

    def feedback(self, cf: ClassifiedFeedback) -> list[Firing]:
        out: list[Firing] = []
        if self.cfg.negative_share.enabled:
            out += self._share(cf)
        if self.cfg.complaints.enabled and is_complaint(cf):
            out += self._complaint(cf)
        return out

    def _share(self, cf: ClassifiedFeedback) -> list[Firing]:
        subject = f"channel:{cf.channel.value}"
        b = self.shares.add((subject,), cf.occurred_at, is_complaint(cf))
        rise = share_rise(self.shares, subject, b) if b is not None and is_complaint(cf) else None
        if rise is None:
            return []
        e = rise.evidence
        return [Firing(kind="negative_share", subject=subject, at=cf.occurred_at, window_start=rise.window_start,
                       severity=self.cfg.negative_share.severity, channel=cf.channel, evidence=e,
                       title=f"negative feedback on {cf.channel.value}: {e['share']:.0%} of {e['total']} "
                             f"against {e['baseline_share']:.0%} before ({e['ratio']:.1f}x, p={e['p_value']:.1g})")]

    def _complaint(self, cf: ClassifiedFeedback) -> list[Firing]:
        facts = self.orders.get(cf.order_id)
        if facts is None:
            return []   # no order known: the complaint counts for its channel only (see orders.py)
        wanted = self.cfg.complaints.subjects
        subjects = ([f"sku:{s}" for s in facts.skus] if "sku" in wanted else []) \
            + ([f"category:{c}" for c in facts.categories] if "category" in wanted else []) \
            + ([f"region:{facts.region}"] if "region" in wanted and facts.region else [])
        if not subjects:
            return []
        b = self.complaints.add(subjects, cf.occurred_at, True)
        if b is None:
            return []
        self.regions.add(b, subjects, facts.region)
        self.regions.prune(b - self.complaints.keep)
        out = []
        for subject in subjects:
            rise = rate_rise(self.complaints, subject, b)
            if rise is None:
                continue
            dim, _, value = subject.partition(":")
            w0 = self.complaints.index(rise.window_start)
            region = value if dim == "region" else self.regions.of(subject, w0, b)
            e = rise.evidence
            out.append(Firing(
                kind="complaint_rate", subject=subject, at=cf.occurred_at, window_start=rise.window_start,
                severity=self.cfg.complaints.severity, channel=cf.channel, region=region,
                sku=value if dim == "sku" else None, evidence={**e, "region": region},
                title=f"complaints on {dim} {value}: {e['count']} in {e['window_minutes'] // 60 or 1} h "
                      f"against {e['expected']:g} expected ({e['ratio']:.1f}x, p={e['p_value']:.1g})"
                      + (f", mostly {region}" if region and dim != "region" else "")))
        return out

    def kpis(self, snap: KpiSnapshot | None, now: datetime) -> list[Firing]:
        """Pace and ROI signals from the month's figures at `now`; each subject once per month."""
        if snap is None:
            return []
        out = []
        for f in pace_firings(snap, now, self.cfg) + roi_firings(snap, now, self.cfg):
            if f.incident_key not in self.raised:
                self.raised.add(f.incident_key)
                out.append(f)
        return out

    def remember(self, keys) -> None:
        """Incident keys raised before (read from SQL at start-up): a restart does not raise them again."""
        self.raised.update(keys)
