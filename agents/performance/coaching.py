"""config/training.yaml -> TrainingConfig; (observations of a slot, team membership, streaks, open items) ->
streaks, coaching items to open and to close as recovered. Pure: no clock, no SQL."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pipeline import configfile
from pipeline.configfile import ConfigProblem
from schemas.customers import stable_id

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "config" / "training.yaml"
# what the observe port measures per rep, and which way is better
METRICS: dict[str, bool] = {
    "conversion_lead": True, "conversion_qualified": True, "conversion_proposal": True,
    "conversion_negotiation": True, "ack_minutes": False, "sentiment": True,
}
OPEN = ("open", "assigned")          # an item in these states holds its (rep, metric)
STATES = ("open", "assigned", "done", "recovered")
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
Key = tuple[str, str]                # (rep, metric)
Observations = Mapping[str, Mapping[str, float | None]]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Topic(_Model):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    title: str = Field(min_length=1, max_length=200)
    description: str = ""
    link: str | None = Field(default=None, pattern=r"^https?://")


class Rule(_Model):
    """A metric, which way is better, how far behind the peers' median (absolute, the metric's unit), how long."""

    metric: str
    higher_is_better: bool | None = None   # None: the metric's own direction (METRICS)
    margin: float = Field(ge=0)
    for_days: int = Field(ge=1, le=366)
    topic: str

    @property
    def higher(self) -> bool:
        return METRICS[self.metric] if self.higher_is_better is None else self.higher_is_better

    def behind(self, value: float, median: float) -> bool:
        return value < median - self.margin if self.higher else value > median + self.margin


class TrainingConfig(_Model):
    version: Literal[1] = 1
    sweep_interval_s: float = Field(default=86400.0, ge=60, le=31 * 86400)
    check_interval_s: float = Field(default=60.0, gt=0, le=3600)
    window_days: int = Field(default=28, ge=1, le=366)   # what one observation covers, up to the sweep
    min_peers: int = Field(default=1, ge=1)
    topics: tuple[Topic, ...] = Field(min_length=1)
    rules: tuple[Rule, ...] = ()

    @model_validator(mode="after")
    def _references(self) -> "TrainingConfig":
        ids = [t.id for t in self.topics]
        for i, t in enumerate(self.topics):
            if t.id in ids[:i]:
                raise ConfigProblem(("topics", i, "id"), f'topic "{t.id}" is listed twice')
        seen: set[str] = set()
        for i, r in enumerate(self.rules):
            if r.metric not in METRICS:
                raise ConfigProblem(("rules", i, "metric"), f'rule {i + 1} names unknown metric "{r.metric}" '
                                                            f'(known: {", ".join(METRICS)})')
            if r.metric in seen:
                raise ConfigProblem(("rules", i, "metric"), f'a second rule for metric "{r.metric}" (one per metric: '
                                                            f'one open item per rep and metric)')
            seen.add(r.metric)
            if r.topic not in ids:
                raise ConfigProblem(("rules", i, "topic"), f'rule {i + 1} names unknown topic "{r.topic}" '
                                                           f'(topics: {", ".join(ids)})')
        return self

    def topic(self, topic_id: str) -> Topic | None:
        return next((t for t in self.topics if t.id == topic_id), None)

    def slot(self, at: datetime) -> datetime:
        """The start of the observation slot holding `at` (slots of sweep_interval_s since the epoch, UTC)."""
        n = int((at - EPOCH).total_seconds() // self.sweep_interval_s)
        return EPOCH + timedelta(seconds=n * self.sweep_interval_s)


def load_training(path: Path | str = DEFAULT_PATH) -> TrainingConfig:
    """The training topics and coaching rules; ConfigError `file:line: field: message` on any mistake."""
    return configfile.read(path).validate(TrainingConfig)


@dataclass(frozen=True)
class Member:
    team: str
    region: str | None = None


@dataclass(frozen=True)
class Streak:
    """Consecutive observations behind (no item open) and, while an item is open, not behind."""

    behind: int = 0
    ok: int = 0


@dataclass(frozen=True)
class Held:
    """An item holding its (rep, metric): only `open` ones close by themselves."""

    item_id: str
    state: str


@dataclass(frozen=True)
class Opened:
    item_id: str
    rep: str
    metric: str
    team: str
    region: str | None
    topic: str
    value: float
    median: float

    def row(self, at: datetime) -> dict:
        return {"item_id": self.item_id, "rep": self.rep, "metric": self.metric, "team": self.team,
                "region": self.region, "topic": self.topic, "state": "open", "opened_at": at,
                "opened_value": self.value, "opened_median": self.median, "current_value": self.value,
                "current_median": self.median, "observed_at": at, "closed_at": None, "updated_at": at}


@dataclass
class Step:
    """What one observation changes: every streak it touched, items to open, open items recovered, and the
    latest value and peers' median of every (rep, metric) observed (the items' `current`)."""

    streaks: dict[Key, Streak] = field(default_factory=dict)
    opened: list[Opened] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    recovered_keys: list[Key] = field(default_factory=list)
    current: dict[Key, tuple[float | None, float | None]] = field(default_factory=dict)


def peers_median(observations: Observations, members: Mapping[str, Member], rep: str, metric: str,
                 min_peers: int) -> float | None:
    """Median of `metric` over the other reps of `rep`'s team holding a value; None under min_peers of them."""
    team = members[rep].team
    values = [float(v) for other, obs in observations.items()
              if other != rep and other in members and members[other].team == team
              and (v := obs.get(metric)) is not None]
    return statistics.median(values) if len(values) >= min_peers else None


def step(cfg: TrainingConfig, at: datetime, observations: Observations, members: Mapping[str, Member],
         streaks: Mapping[Key, Streak], held: Mapping[Key, Held]) -> Step:
    """One observation slot at `at`. A missing value (or too few peers) breaks both counts: coaching
    follows evidence only. Reps outside `members` (no team in the directory) are not compared."""
    out = Step()
    reps = ({r for r in observations if r in members} | {r for r, _ in streaks} | {r for r, _ in held})
    for rule in cfg.rules:
        for rep in sorted(reps):
            key = (rep, rule.metric)
            value = observations.get(rep, {}).get(rule.metric) if rep in members else None
            median = peers_median(observations, members, rep, rule.metric, cfg.min_peers) \
                if value is not None else None
            before = streaks.get(key, Streak())
            item = held.get(key)
            if value is None or median is None:
                after = Streak()
            else:
                value = float(value)
                out.current[key] = (value, median)
                behind = rule.behind(value, median)
                if item is not None:
                    after = Streak(0, 0 if behind else before.ok + 1)
                    if item.state == "open" and after.ok >= rule.for_days:
                        out.recovered.append(item.item_id)
                        out.recovered_keys.append(key)
                        after = Streak()
                elif behind and before.behind + 1 >= rule.for_days:
                    m = members[rep]
                    # the same id from any driver and worker observing this slot
                    item_id = str(stable_id("coaching", rep, rule.metric, cfg.slot(at).isoformat()))
                    out.opened.append(Opened(item_id, rep, rule.metric, m.team, m.region, rule.topic, value, median))
                    after = Streak()
                else:
                    after = Streak(before.behind + 1 if behind else 0, 0)
            if after != before or key in streaks:
                out.streaks[key] = after
    return out


def members_of(people: Iterable) -> dict[str, Member]:
    """Directory people with a team -> rep -> Member (team, region): whom the core compares with whom."""
    return {p.id: Member(p.team, p.region) for p in people if p.team is not None and p.role == "account_rep"}
