"""RepMetrics + targets + period + now -> Scorecard (attainment against base and stretch with pace, conversion per
stage against the team's median, the other figures); scorecards -> a leaderboard ranked by attainment."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from agents.performance.metrics import RepMetrics
from agents.performance.targets import ADDITIVE, LOWER_IS_BETTER, METRICS, Period, Target


def elapsed_share(period: Period, now: datetime) -> float:
    """How much of the period has passed at `now` (0 before it, 1 after it)."""
    total = (period.end - period.start).total_seconds()
    return min(1.0, max(0.0, (now - period.start).total_seconds() / total))


def _num(v) -> int | float | None:
    """A count stays whole in JSON (31, not 31.0); a share or a fractional target is a float."""
    if v is None:
        return None
    return int(v) if v == int(v) else float(v)


def attainment(metric: str, actual, level: Decimal) -> float | None:
    """actual / level; for a share where lower is better, (1 - actual) / (1 - level), so beating the level
    is above 1 either way. None when there is no figure or nothing to divide by."""
    if actual is None:
        return None
    a, t = float(actual), float(level)
    if metric in LOWER_IS_BETTER:
        return (1 - a) / (1 - t) if t < 1 else None
    return a / t if t else None


@dataclass(frozen=True)
class Line:
    """One metric against its target."""

    metric: str
    actual: Decimal | float | int | None
    base: Decimal
    stretch: Decimal
    of_base: float | None          # attainment against base (1.0 = reached)
    of_stretch: float | None
    expected: Decimal | None       # additive metrics: where the base puts the rep by now (base x elapsed)
    on_pace: bool | None           # actual >= expected (additive metrics), else whether the base is met
    projected: Decimal | None      # additive metrics: actual / elapsed, the period's end at this rate

    def to_dict(self) -> dict:
        r4 = lambda v: None if v is None else round(v, 4)  # noqa: E731
        money = self.metric == "revenue"
        show = (lambda v: None if v is None else str(Decimal(v).quantize(Decimal("0.01")))) if money else _num
        est = show if money else (lambda v: None if v is None else round(float(v), 2))  # noqa: E731
        return {"metric": self.metric, "actual": show(self.actual), "base": show(self.base),
                "stretch": show(self.stretch), "of_base": r4(self.of_base), "of_stretch": r4(self.of_stretch),
                "expected": est(self.expected), "on_pace": self.on_pace, "projected": est(self.projected),
                "lower_is_better": self.metric in LOWER_IS_BETTER}


def line(metric: str, actual, target: Target, elapsed: float) -> Line:
    of_base, of_stretch = attainment(metric, actual, target.base), attainment(metric, actual, target.stretch)
    expected = projected = None
    if metric in ADDITIVE:
        expected = (target.base * Decimal(str(elapsed))).quantize(Decimal("0.0001"))
        on_pace = actual is not None and Decimal(str(actual)) >= expected
        if elapsed > 0 and actual is not None:
            projected = (Decimal(str(actual)) / Decimal(str(elapsed))).quantize(Decimal("0.0001"))
    else:
        on_pace = None if of_base is None else of_base >= 1
    return Line(metric, actual, target.base, target.stretch, of_base, of_stretch, expected, on_pace, projected)


@dataclass(frozen=True)
class Scorecard:
    kind: str                       # rep or team
    id: str
    team: str | None
    period: Period
    elapsed: float
    metrics: RepMetrics
    lines: tuple[Line, ...]
    conversion_vs_team: Mapping[str, dict] = field(default_factory=dict)
    incentive: dict | None = None

    @property
    def attainment(self) -> float | None:
        """Revenue against its base: what the leaderboard ranks by (a share, so a small territory can lead)."""
        rev = next((ln for ln in self.lines if ln.metric == "revenue"), None)
        return rev.of_base if rev is not None else None

    def to_dict(self) -> dict:
        m = self.metrics
        r4 = lambda v: None if v is None else round(v, 4)  # noqa: E731
        return {
            "kind": self.kind, "id": self.id, "team": self.team, "period": self.period.text,
            "elapsed": round(self.elapsed, 4), "attainment": r4(self.attainment),
            "targets": [ln.to_dict() for ln in self.lines],
            "figures": {
                "revenue": str(m.revenue.quantize(Decimal("0.01"))), "orders": m.orders,
                "average_order_value": None if m.aov is None else str(m.aov), "new_customers": m.new_customers,
                "conversion": r4(m.conversion), "win_rate": r4(m.win_rate), "sales_cycle_days": r4(m.cycle_days),
                "opportunities": m.reached[0], "won": m.won, "lost": m.lost,
                "followups_due": m.followups_due, "followup_completion": r4(m.followup_completion),
                "followup_on_time": r4(m.followup_on_time),
                "incidents_acked": len(m.ack_minutes), "ack_median_minutes": r4(m.ack_median_minutes),
                "ack_mean_minutes": r4(statistics.fmean(m.ack_minutes)) if m.ack_minutes else None,
                "feedback": m.feedback_count, "negative_feedback_share": r4(m.negative_feedback_share),
                "sentiment": r4(m.sentiment),
            },
            "conversion_by_stage": dict(self.conversion_vs_team),
            "incentive": self.incentive,
        }


def team_median_conversion(members: Iterable[RepMetrics]) -> dict[str, float | None]:
    """Stage -> the median of the members' stage conversions (members without opportunities there left out)."""
    per_stage: dict[str, list[float]] = {}
    for m in members:
        for stage, v in m.stage_conversion().items():
            per_stage.setdefault(stage, [])
            if v is not None:
                per_stage[stage].append(v)
    return {s: (statistics.median(vs) if vs else None) for s, vs in per_stage.items()}


def scorecard(kind: str, ident: str, team: str | None, period: Period, metrics: RepMetrics,
              targets: Mapping[str, Target], now: datetime, team_median: Mapping[str, float | None] | None = None,
              revenue: Decimal | None = None, incentive: dict | None = None) -> Scorecard:
    """One owner's scorecard at `now`. `revenue` (the revenue port's figure) replaces the KPI cells' one."""
    if revenue is not None:
        metrics = replace(metrics, revenue=revenue)
    elapsed = elapsed_share(period, now)
    lines = tuple(line(m, metrics.value(m), targets[m], elapsed) for m in METRICS if m in targets)
    vs = {}
    for stage, v in metrics.stage_conversion().items():
        med = (team_median or {}).get(stage)
        vs[stage] = {"rate": None if v is None else round(v, 4), "team_median": None if med is None else round(med, 4),
                     "vs_median": None if v is None or med is None else round(v - med, 4)}
    return Scorecard(kind, ident, team, period, elapsed, metrics, lines, vs, incentive)


def leaderboard(cards: Iterable[Scorecard]) -> list[dict]:
    """Rep cards ranked by attainment of their revenue base (highest first; no target last, then by id)."""
    ranked = sorted(cards, key=lambda c: (c.attainment is None, -(c.attainment or 0), c.id))
    out = []
    for i, c in enumerate(ranked, 1):
        rev = next((ln for ln in c.lines if ln.metric == "revenue"), None)
        out.append({"rank": i, "rep": c.id, "team": c.team, "attainment": None if c.attainment is None else
                    round(c.attainment, 4), "revenue": str(c.metrics.revenue.quantize(Decimal("0.01"))),
                    "target": None if rev is None else str(rev.base), "on_pace": None if rev is None else rev.on_pace})
    return out

