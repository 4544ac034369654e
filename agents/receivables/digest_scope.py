"""A period's feedback, competitor mentions, business signals and overdue receivables + a subscriber's scope ->
the digest content for that subscriber (only their region's, or team's, figures) and its text."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable

PERIODS = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
SUBSCRIPTIONS = {"hourly": "hour", "daily": "day"}


@dataclass(frozen=True, slots=True)
class Scope:
    """What a subscriber sees: their region; else their team; else (neither) everything."""

    region: str | None = None
    team: str | None = None

    @classmethod
    def of(cls, person) -> "Scope":
        if person.region is not None:
            return cls(region=person.region)
        return cls(team=person.team)

    def covers(self, region: str | None, team: str | None) -> bool:
        if self.region is not None:
            return region == self.region
        if self.team is not None:
            return team == self.team
        return True

    def label(self) -> str:
        return f"region {self.region}" if self.region else f"team {self.team}" if self.team else "all regions"


@dataclass(frozen=True, slots=True)
class Feedback:
    """Classified feedback of one kind, counted in SQL (the digest never reads messages one by one)."""

    current: bool                 # in the period (else in the one before: the trend's baseline)
    region: str | None
    team: str | None
    negative: bool
    category: str
    count: int
    score_sum: float              # of the sentiment scores


@dataclass(frozen=True, slots=True)
class Mention:
    competitor: str
    region: str | None
    team: str | None
    count: int = 1


@dataclass(frozen=True, slots=True)
class Signal:
    incident_key: str
    category: str
    severity: str
    title: str
    region: str | None
    team: str | None


@dataclass(frozen=True, slots=True)
class Overdue:
    region: str | None
    team: str | None
    count: int = 1


def period_start(now: datetime, period: str) -> datetime:
    """The start of the last complete period before `now` (UTC hours and days)."""
    if period == "hour":
        return now.replace(minute=0, second=0, microsecond=0) - PERIODS["hour"]
    return now.replace(hour=0, minute=0, second=0, microsecond=0) - PERIODS["day"]


def _mean(groups: list[Feedback]) -> float | None:
    n = sum(f.count for f in groups)
    return round(sum(f.score_sum for f in groups) / n, 4) if n else None


def build(period: str, start: datetime, scope: Scope, feedback: Iterable[Feedback], mentions: Iterable[Mention],
          signals: Iterable[Signal], overdue: Iterable[Overdue], counts: dict[str, int | None], top: int = 5) -> dict:
    """Feedback counted over the period and the one before it (the trend's baseline); mentions and signals
    of the period; overdue receivables as of its end; `counts`: figures other capabilities give for the
    scope (open cases, overdue follow-ups; None when not known)."""
    end = start + PERIODS[period]
    mine = [f for f in feedback if scope.covers(f.region, f.team)]
    cur, prev = [f for f in mine if f.current], [f for f in mine if not f.current]
    mean, before = _mean(cur), _mean(prev)
    complaints: Counter = Counter()
    for f in cur:
        if f.negative:
            complaints[f.category] += f.count
    competitors: Counter = Counter()
    for m in mentions:
        if scope.covers(m.region, m.team):
            competitors[m.competitor] += m.count
    sigs = [s for s in signals if scope.covers(s.region, s.team)]
    return {
        "period": period, "period_start": start.isoformat(), "period_end": end.isoformat(),
        "scope": {"region": scope.region, "team": scope.team},
        "feedback_count": sum(f.count for f in cur), "negative_count": sum(f.count for f in cur if f.negative),
        "complaints": dict(sorted(complaints.items(), key=lambda kv: (-kv[1], kv[0]))[:top]),
        "mean_sentiment": mean, "previous_mean_sentiment": before,
        "sentiment_trend": round(mean - before, 4) if mean is not None and before is not None else None,
        "competitors": dict(sorted(competitors.items(), key=lambda kv: (-kv[1], kv[0]))[:top]),
        "signals": [{"incident_key": s.incident_key, "category": s.category, "severity": s.severity,
                     "title": s.title} for s in sorted(sigs, key=lambda s: s.incident_key)[:top]],
        "overdue_receivables": sum(o.count for o in overdue if scope.covers(o.region, o.team)),
        **{name: value for name, value in sorted(counts.items())},
    }


def render(content: dict, scope: Scope) -> tuple[str, str]:
    """(subject, plain text) of a digest."""
    word = "Hourly" if content["period"] == "hour" else "Daily"
    subject = (f"{word} digest, {scope.label()}: {content['feedback_count']} feedback, "
               f"{content['negative_count']} negative ({content['period_start'][:16]}Z)")
    trend = content["sentiment_trend"]
    lines = [subject, "", f"Period: {content['period_start']} to {content['period_end']}",
             f"Mean sentiment: {content['mean_sentiment']}"
             + (f" (trend {trend:+.4f})" if trend is not None else ""), "", "Complaints by category:"]
    lines += [f"  {k}: {n}" for k, n in content["complaints"].items()] or ["  none"]
    lines += ["", "Competitors mentioned:"]
    lines += [f"  {k}: {n}" for k, n in content["competitors"].items()] or ["  none"]
    lines += ["", "Business signals:"]
    lines += [f"  [{s['severity']}] {s['title']} ({s['category']})" for s in content["signals"]] or ["  none"]
    lines += ["", f"Overdue receivables: {content['overdue_receivables']}"]
    for name in ("open_cases", "overdue_followups"):
        if content.get(name) is not None:
            lines.append(f"{name.replace('_', ' ').capitalize()}: {content[name]}")
    return subject, "\n".join(lines)
