"""config/scorecards.yaml (+ config/targets.yaml for revenue) -> ScorecardTargets: base and stretch per
owner, period and metric, or a ConfigError `file:line: key: message`."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agents.kpis.targets import TargetsConfig
from agents.performance.period import Period, parse_period
from pipeline.configfile import ConfigProblem, read

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "config" / "scorecards.yaml"

Metric = Literal["revenue", "orders", "new_customers", "conversion", "negative_feedback_share", "followup_on_time"]
METRICS: tuple[str, ...] = Metric.__args__
LOWER_IS_BETTER = frozenset({"negative_feedback_share"})
SHARES = frozenset({"conversion", "negative_feedback_share", "followup_on_time"})   # fractions 0..1
ADDITIVE = frozenset({"revenue", "orders", "new_customers"})    # a quarter's target is the sum of its months'


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Owner(_Model):
    rep: str | None = Field(default=None, min_length=1, max_length=128)
    team: str | None = Field(default=None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def _one(self) -> "Owner":
        if (self.rep is None) == (self.team is None):
            raise ValueError("owner is {rep: ID} or {team: ID}, exactly one")
        return self

    @property
    def key(self) -> tuple[str, str]:
        return ("rep", self.rep) if self.rep is not None else ("team", self.team)  # type: ignore[return-value]


class TargetEntry(_Model):
    owner: Owner
    period: str
    metric: Metric
    base: Decimal = Field(ge=0, max_digits=18, decimal_places=4)
    stretch: Decimal | None = Field(default=None, ge=0, max_digits=18, decimal_places=4)

    @model_validator(mode="after")
    def _sane(self) -> "TargetEntry":
        try:
            parse_period(self.period)
        except ValueError as exc:
            raise ConfigProblem(("period",), str(exc)) from None
        for name in ("base", "stretch"):
            v = getattr(self, name)
            if v is not None and self.metric in SHARES and v > 1:
                raise ConfigProblem((name,), f"{self.metric} is a share between 0 and 1, not {v}")
        if self.stretch is not None:
            if self.metric in LOWER_IS_BETTER and self.stretch > self.base:
                raise ConfigProblem(("stretch",), f"{self.metric} is better lower: stretch {self.stretch} must be "
                                                  f"at most base {self.base}")
            if self.metric not in LOWER_IS_BETTER and self.stretch < self.base:
                raise ConfigProblem(("stretch",), f"stretch {self.stretch} is below base {self.base}")
        return self


class ScorecardsConfig(_Model):
    version: Literal[1] = 1
    # revenue's stretch when an entry (or config/targets.yaml's base) gives none: base x this
    revenue_stretch_factor: Decimal = Field(default=Decimal("1.2"), ge=1, le=10)
    targets: tuple[TargetEntry, ...] = ()

    @model_validator(mode="after")
    def _once(self) -> "ScorecardsConfig":
        seen: dict[tuple, int] = {}
        for i, t in enumerate(self.targets):
            k = (t.owner.key, parse_period(t.period).text, t.metric)
            if k in seen:
                raise ConfigProblem(("targets", i), f"repeats the {t.metric} target of {k[0][0]} {k[0][1]} for "
                                                    f"{k[1]} (entry {seen[k] + 1})")
            seen[k] = i
        return self


@dataclass(frozen=True)
class Target:
    base: Decimal
    stretch: Decimal


class ScorecardTargets:
    """Targets by (owner kind, owner id, period, metric); revenue falls back on config/targets.yaml's monthly
    target (a quarter: the sum of its months) with the configured stretch factor."""

    def __init__(self, cfg: ScorecardsConfig, revenue: TargetsConfig | None = None) -> None:
        self.cfg, self.revenue = cfg, revenue
        self.entries = {(t.owner.key, parse_period(t.period).text, t.metric): t for t in cfg.targets}

    def _revenue_base(self, kind: str, ident: str, period: Period) -> Decimal | None:
        if self.revenue is None:
            return None
        ids = [ident] if kind == "rep" else kpi_team_ids(ident)
        total = Decimal(0)
        for m in period.months:
            got = next((v for i in ids if (v := self.revenue.monthly(kind, i, period.year, m)) is not None), None)
            if got is None:
                return None
            total += got
        return total

    def get(self, kind: str, ident: str, period: Period, metric: str) -> Target | None:
        e = self.entries.get(((kind, ident), period.text, metric))
        if e is not None:
            stretch = e.stretch
            if stretch is None:
                stretch = (e.base * self.cfg.revenue_stretch_factor).quantize(Decimal("0.01")) \
                    if metric == "revenue" else e.base
            return Target(e.base, stretch)
        if not period.is_month and metric in ADDITIVE:
            parts = [self.get(kind, ident, p, metric) for p in period.month_periods()]
            if all(p is not None for p in parts):
                return Target(sum((p.base for p in parts), Decimal(0)), sum((p.stretch for p in parts), Decimal(0)))
        if metric == "revenue":
            base = self._revenue_base(kind, ident, period)
            if base is not None:
                return Target(base, (base * self.cfg.revenue_stretch_factor).quantize(Decimal("0.01")))
        return None

    def for_owner(self, kind: str, ident: str, period: Period) -> dict[str, Target]:
        return {m: t for m in METRICS if (t := self.get(kind, ident, period, m)) is not None}


def kpi_team_ids(team: str) -> list[str]:
    """A directory team (`team-north`) -> the ids config/targets.yaml may use for it (`team-north`, `north`):
    the KPI targets name teams by territory, the directory by team."""
    return [team, team.removeprefix("team-")] if team.startswith("team-") else [team]


def load_scorecard_targets(path: Path | str = DEFAULT_PATH, revenue: TargetsConfig | None = None,
                           directory=None) -> ScorecardTargets:
    """The scorecard targets, or ConfigError `file:line: key: message`. With a directory, every owner must be
    in it (a rep: a person; a team: a team some person belongs to)."""
    doc = read(path)
    cfg = doc.validate(ScorecardsConfig)
    if directory is not None:
        people = {p.id for p in directory.people}
        teams = {p.team for p in directory.people if p.team}
        for i, t in enumerate(cfg.targets):
            kind, ident = t.owner.key
            if kind == "rep" and ident not in people:
                raise doc.error(("targets", i, "owner", "rep"), f"{ident!r} is nobody in the directory")
            if kind == "team" and ident not in teams:
                raise doc.error(("targets", i, "owner", "team"), f"no one in the directory is in team {ident!r} "
                                                                 f"(teams: {', '.join(sorted(teams))})")
    return ScorecardTargets(cfg, revenue)


def load_configured(paths, directory, reporting_currency: str | None = None) -> ScorecardTargets:
    """The scorecard targets of the settings' paths (config/scorecards.yaml, config/targets.yaml)."""
    from agents.kpis.targets import load_targets

    revenue = load_targets(paths.resolve("targets", "targets.yaml"), reporting_currency)
    return load_scorecard_targets(paths.resolve("scorecards", "scorecards.yaml"), revenue, directory)
