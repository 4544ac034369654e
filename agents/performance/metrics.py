"""SQL (kpi_cells, customer_profiles, followups, incidents, classified_feedback) + a time range -> RepMetrics
per rep: revenue, orders, funnel, follow-ups, acknowledgement times and their customers' feedback."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from agents.kpis.cells import (COMPANY, F_LOST, F_WON, F_WON_US, FUNNEL, O_GROSS, O_ORDERS, O_REFUNDS, ORDERS,
                               STAGES)
from agents.kpis.rollups import CELLS, merged
from agents.customers.codec import to_us
from agents.kpis.windows import bucket, following
from pipeline.db.models import ClassifiedFeedbackRow, CustomerProfileRow, FollowUpRow, IncidentRow

PROFILES = CustomerProfileRow.__table__
FOLLOWUPS = FollowUpRow.__table__
INCIDENTS = IncidentRow.__table__
FEEDBACK = ClassifiedFeedbackRow.__table__
_UNIT = Decimal(10_000)    # KPI cells hold money in 1/10,000 of the reporting currency
_CHUNK = 500               # ids per IN list (SQLite caps bound parameters)


@dataclass
class RepMetrics:
    """What one rep (or, summed, a team) did in a range; the ratios are None when nothing was there to divide."""

    revenue: Decimal = Decimal(0)          # net of refunds, reporting currency
    orders: int = 0
    new_customers: int = 0
    reached: list[int] = field(default_factory=lambda: [0] * len(STAGES))   # opportunities reaching each stage
    won: int = 0
    lost: int = 0
    won_seconds: float = 0.0               # summed lead -> won time of the won ones
    followups_due: int = 0
    followups_done: int = 0
    followups_on_time: int = 0
    ack_minutes: list[float] = field(default_factory=list)
    feedback: dict[str, int] = field(default_factory=dict)   # sentiment -> messages

    def add(self, o: "RepMetrics") -> None:
        """Fold another rep's figures in (a team is the sum of its reps)."""
        self.revenue += o.revenue
        self.orders += o.orders
        self.new_customers += o.new_customers
        self.reached = [a + b for a, b in zip(self.reached, o.reached)]
        self.won, self.lost, self.won_seconds = self.won + o.won, self.lost + o.lost, self.won_seconds + o.won_seconds
        self.followups_due += o.followups_due
        self.followups_done += o.followups_done
        self.followups_on_time += o.followups_on_time
        self.ack_minutes = self.ack_minutes + o.ack_minutes
        for k, n in o.feedback.items():
            self.feedback[k] = self.feedback.get(k, 0) + n

    @property
    def aov(self) -> Decimal | None:
        return (self.revenue / self.orders).quantize(Decimal("0.01")) if self.orders else None

    def stage_conversion(self) -> dict[str, float | None]:
        """Stage -> share of the opportunities reaching it that reached the next one."""
        return {STAGES[i]: (self.reached[i + 1] / self.reached[i] if self.reached[i] else None)
                for i in range(len(STAGES) - 1)}

    @property
    def conversion(self) -> float | None:
        return self.reached[-1] / self.reached[0] if self.reached[0] else None

    @property
    def win_rate(self) -> float | None:
        return self.won / (self.won + self.lost) if self.won + self.lost else None

    @property
    def cycle_days(self) -> float | None:
        return self.won_seconds / self.won / 86400 if self.won else None

    @property
    def followup_completion(self) -> float | None:
        return self.followups_done / self.followups_due if self.followups_due else None

    @property
    def followup_on_time(self) -> float | None:
        return self.followups_on_time / self.followups_due if self.followups_due else None

    @property
    def ack_median_minutes(self) -> float | None:
        return statistics.median(self.ack_minutes) if self.ack_minutes else None

    @property
    def feedback_count(self) -> int:
        return sum(self.feedback.values())

    @property
    def negative_feedback_share(self) -> float | None:
        n = self.feedback_count
        return self.feedback.get("negative", 0) / n if n else None

    @property
    def sentiment(self) -> float | None:
        """Positive share minus negative share (-1 .. 1)."""
        n = self.feedback_count
        return (self.feedback.get("positive", 0) - self.feedback.get("negative", 0)) / n if n else None

    def value(self, metric: str) -> Decimal | float | int | None:
        """The figure a scorecard target names."""
        return {"revenue": self.revenue, "orders": self.orders, "new_customers": self.new_customers,
                "conversion": self.conversion, "negative_feedback_share": self.negative_feedback_share,
                "followup_on_time": self.followup_on_time}[metric]


def buckets(start: datetime, end: datetime) -> tuple[str, list[int]]:
    """The KPI cells covering [start, end): month cells when both ends are month starts, else day cells."""
    lo, hi = to_us(start), to_us(end)
    g = "month" if bucket("month", lo) == lo and bucket("month", hi) == hi else "day"
    out, b = [], bucket(g, lo)
    while b < hi:
        out.append(b)
        b = following(g, b)
    return g, out


def fold_cells(cells: dict, out: dict[str, RepMetrics]) -> None:
    """Merged KPI cells (dimension rep) -> revenue, orders and funnel per rep."""
    for (kind, _scope, _g, _b, dim, rep), c in cells.items():
        if dim != "rep":
            continue
        m = out.setdefault(rep, RepMetrics())
        if kind == ORDERS:
            m.orders += c[O_ORDERS]
            m.revenue += Decimal(c[O_GROSS] - c[O_REFUNDS]) / _UNIT
        elif kind == FUNNEL:
            m.reached = [a + b for a, b in zip(m.reached, c[:len(STAGES)])]
            m.won, m.lost = m.won + c[F_WON], m.lost + c[F_LOST]
            m.won_seconds += c[F_WON_US] / 1_000_000


def fold_followups(rows: Iterable[tuple], out: dict[str, RepMetrics]) -> None:
    """(assignee, owner_rep_id, due_at, done_at) of follow-ups due in the range -> counts per rep (the
    assignee, or the owner when a queue holds it)."""
    for assignee, owner, due_at, done_at in rows:
        rep = owner if assignee is None or assignee.startswith("queue:") else assignee
        if rep is None:
            continue
        m = out.setdefault(rep, RepMetrics())
        m.followups_due += 1
        if done_at is not None:
            m.followups_done += 1
            m.followups_on_time += done_at <= due_at


async def rep_metrics(engine, start: datetime, end: datetime) -> dict[str, RepMetrics]:
    """Every rep's figures for [start, end) (the KPI figures: of the whole UTC days, or months, it touches)."""
    out: dict[str, RepMetrics] = {}
    granularity, starts = buckets(start, end)
    async with engine.connect() as conn:
        cell_rows = (await conn.execute(
            select(*(CELLS.c[c] for c in ("kind", "scope", "granularity", "bucket", "dimension", "value")),
                   CELLS.c.counts)
            .where(CELLS.c.kind.in_((ORDERS, FUNNEL)), CELLS.c.scope == COMPANY, CELLS.c.granularity == granularity,
                   CELLS.c.dimension == "rep", CELLS.c.bucket.in_(starts)))).all() if starts else []
        fups = (await conn.execute(select(FOLLOWUPS.c.assignee, FOLLOWUPS.c.owner_rep_id, FOLLOWUPS.c.due_at,
                                          FOLLOWUPS.c.done_at)
                                   .where(FOLLOWUPS.c.due_at >= start, FOLLOWUPS.c.due_at < end))).all()
        acks = (await conn.execute(select(INCIDENTS.c.acked_by, INCIDENTS.c.acked_at, INCIDENTS.c.first_seen)
                                   .where(INCIDENTS.c.acked_at >= start, INCIDENTS.c.acked_at < end,
                                          INCIDENTS.c.acked_by.is_not(None)))).all()
        feedback = (await conn.execute(select(FEEDBACK.c.customer_id, FEEDBACK.c.sentiment)
                                       .where(FEEDBACK.c.occurred_at >= start, FEEDBACK.c.occurred_at < end))).all()
        # the profiles that matter only: new in the range, or with feedback in it (a snapshot is a large JSON)
        profile = select(PROFILES.c.customer_id, PROFILES.c.first_order_at, PROFILES.c.snapshot)
        profiles = list((await conn.execute(profile.where(PROFILES.c.first_order_at >= start,
                                                          PROFILES.c.first_order_at < end))).all())
        seen = {r[0] for r in profiles}
        wanted = sorted({cid for cid, _ in feedback} - seen)
        for i in range(0, len(wanted), _CHUNK):
            profiles += (await conn.execute(profile.where(PROFILES.c.customer_id.in_(wanted[i:i + _CHUNK])))).all()
    fold_cells(merged(cell_rows), out)
    owner: dict[str, str] = {}
    for cid, first, snap in profiles:
        rep = (snap or {}).get("owner_rep_id")
        if rep is None:
            continue
        owner[cid] = rep
        if first is not None and start <= first < end:
            out.setdefault(rep, RepMetrics()).new_customers += 1
    fold_followups(fups, out)
    for by, acked_at, first_seen in acks:
        out.setdefault(by, RepMetrics()).ack_minutes.append(max(0.0, (acked_at - first_seen).total_seconds() / 60))
    for cid, sentiment in feedback:
        rep = owner.get(cid)
        if rep is not None:
            fb = out.setdefault(rep, RepMetrics()).feedback
            fb[sentiment] = fb.get(sentiment, 0) + 1
    return out


def team_metrics(reps: dict[str, RepMetrics], members: Iterable[str]) -> RepMetrics:
    """A team's figures: the sum of its members'."""
    total = RepMetrics()
    for rep in members:
        if rep in reps:
            total.add(reps[rep])
    return total


async def coaching_observations(engine, start: datetime, end: datetime) -> dict[str, dict[str, float | None]]:
    """rep -> {conversion_<stage> (stage -> next stage share), ack_minutes (median), sentiment (positive share
    minus negative share)} over [start, end): the observations coaching compares with the team's median."""
    out = {}
    for rep, m in (await rep_metrics(engine, start, end)).items():
        obs: dict[str, float | None] = {f"conversion_{s}": v for s, v in m.stage_conversion().items()}
        obs["ack_minutes"] = m.ack_median_minutes
        obs["sentiment"] = m.sentiment
        out[rep] = obs
    return out

