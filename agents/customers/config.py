"""config/followup.yaml -> FollowUpConfig (scoring parameters + follow-up rules), or a precise ConfigError."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pipeline.configfile import ConfigProblem, load_yaml
from schemas.customers import SEGMENTS

WATCHABLE = ("At risk", "Can't lose")
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "config" / "followup.yaml"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ScoringParams(_Model):
    sentiment_half_life_days: float = Field(14.0, gt=0)
    negative_half_life_days: float = Field(30.0, gt=0)
    prior_gap_days: float = Field(30.0, gt=0)
    min_gap_days: float = Field(1.0, gt=0)
    negative_weight: float = Field(0.35, ge=0)


def _known_segments(v: tuple[str, ...]) -> tuple[str, ...]:
    for i, s in enumerate(v):
        if s not in SEGMENTS:
            raise ConfigProblem((i,), f"unknown segment {s!r} (known: {', '.join(SEGMENTS)})")
    return v


class ValuableCustomer(_Model):
    segments: tuple[str, ...] = ("Champions", "Loyal", "Can't lose")
    min_monetary_score: int = Field(4, ge=1, le=5)

    _check = field_validator("segments")(_known_segments)


class FollowUpRules(_Model):
    quiet_period_days: float = Field(14.0, gt=0)
    churn_threshold: float = Field(0.7, gt=0, lt=1)
    watch_segments: tuple[str, ...] = ("At risk", "Can't lose")
    valuable: ValuableCustomer = ValuableCustomer()
    due_in_hours: float = Field(48.0, gt=0)

    @field_validator("watch_segments")
    @classmethod
    def _watchable(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for i, s in enumerate(v):
            if s not in WATCHABLE:
                raise ConfigProblem((i,), f"segment {s!r} cannot be watched (choose from: {', '.join(WATCHABLE)})")
        return v


class Lifecycle(_Model):
    """Follow-ups once raised: due times, sweeps, notices and the overdue incident (agents/followups)."""

    due_hours: dict[str, float] = {}          # reason -> hours to act; reasons not named use rules.due_in_hours
    sweep_interval_s: float = Field(60.0, gt=0)
    silent_factor: float = Field(1.0, gt=0)   # silent once the time since the last order exceeds this x own gap
    notify_every_minutes: float = Field(15.0, gt=0)
    overdue_severity: Literal["low", "medium", "high", "critical"] = "low"

    @field_validator("due_hours")
    @classmethod
    def _known_reasons(cls, v: dict[str, float]) -> dict[str, float]:
        from schemas.customers import FollowUpReason

        known = [r.value for r in FollowUpReason]
        for reason, hours in v.items():
            if reason not in known:
                raise ConfigProblem((reason,), f"unknown follow-up reason {reason!r} (known: {', '.join(known)})")
            if not hours > 0:
                raise ConfigProblem((reason,), f"due hours must be above 0, got {hours}")
        return v

    def due_in_hours(self, reason: str, default: float | None) -> float | None:
        return self.due_hours.get(reason, default)


class FollowUpConfig(_Model):
    version: Literal[1] = 1
    scoring: ScoringParams = ScoringParams()
    rules: FollowUpRules = FollowUpRules()
    lifecycle: Lifecycle = Lifecycle()


def load_followup_config(path: Path | str = DEFAULT_PATH) -> FollowUpConfig:
    """The follow-up config, or ConfigError `file:line: field: message`."""
    return load_yaml(path, FollowUpConfig)
