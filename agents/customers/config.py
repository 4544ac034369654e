"""config/followup.yaml -> FollowUpConfig (scoring parameters + follow-up rules), or a precise ConfigError."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipeline.errors import ConfigError

SEGMENTS = ("Champions", "Loyal", "Potential loyalist", "New", "Promising", "Need attention",
            "At risk", "Can't lose", "Hibernating", "Lost")
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
    for s in v:
        if s not in SEGMENTS:
            raise ValueError(f"unknown segment {s!r} (known: {', '.join(SEGMENTS)})")
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
        for s in v:
            if s not in WATCHABLE:
                raise ValueError(f"segment {s!r} cannot be watched (choose from: {', '.join(WATCHABLE)})")
        return v


class FollowUpConfig(_Model):
    version: Literal[1] = 1
    scoring: ScoringParams = ScoringParams()
    rules: FollowUpRules = FollowUpRules()


def describe_errors(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False, include_input=False)[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def load_yaml(path: Path, what: str) -> dict:
    """Read a YAML mapping or raise ConfigError naming the file and the problem."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{what} {path}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{what} {path}: invalid YAML: {str(exc).splitlines()[0]}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {path}: top level must be a mapping, got {type(data).__name__}")
    return data


def load_followup_config(path: Path | str = DEFAULT_PATH) -> FollowUpConfig:
    data = load_yaml(Path(path), "follow-up config")
    try:
        return FollowUpConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"follow-up config {path}: {describe_errors(exc)}") from None
