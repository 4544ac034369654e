"""config/targets.yaml -> TargetsConfig (yearly targets per team and rep in the reporting currency, by month), or a ConfigError."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pipeline.configfile import ConfigProblem, read

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "config" / "targets.yaml"
Amount = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=4)]
Weights = tuple[Annotated[Decimal, Field(ge=0)], ...]
_CENT = Decimal("0.01")


def _twelve(v: Weights | None) -> Weights | None:
    if v is None:
        return v
    if len(v) != 12:
        raise ValueError(f"needs 12 monthly weights, got {len(v)}")
    if abs(sum(v) - 1) > Decimal("0.001"):
        raise ValueError(f"monthly weights must sum to 1, they sum to {sum(v)}")
    return v


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RepTarget(_Model):
    yearly_target: Amount
    monthly_weights: Weights | None = None

    _w = field_validator("monthly_weights")(_twelve)


class TeamTarget(_Model):
    yearly_target: Amount
    monthly_weights: Weights | None = None
    reps: dict[str, RepTarget] = {}

    _w = field_validator("monthly_weights")(_twelve)


class TargetsConfig(_Model):
    version: Literal[1] = 1
    year: int = Field(ge=2000, le=2100)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    monthly_weights: Weights | None = None
    teams: dict[str, TeamTarget]

    _w = field_validator("monthly_weights")(_twelve)

    @model_validator(mode="after")
    def _one_team_per_rep(self) -> "TargetsConfig":
        seen: dict[str, str] = {}
        for team, t in self.teams.items():
            for rep in t.reps:
                if rep in seen:
                    raise ConfigProblem(("teams", team, "reps", rep), f"rep {rep!r} is in teams {seen[rep]!r} "
                                        f"and {team!r}; a rep belongs to one team")
                seen[rep] = team
        return self

    @property
    def rep_team(self) -> dict[str, str]:
        return {rep: team for team, t in self.teams.items() for rep in t.reps}

    def _weights(self, own: Weights | None, fallback: Weights | None) -> Weights | None:
        return own if own is not None else fallback if fallback is not None else self.monthly_weights

    def monthly(self, kind: Literal["team", "rep"], ident: str, year: int, month: int) -> Decimal | None:
        """The month's target (yearly x that month's weight, even split by default); None if not set."""
        if year != self.year:
            return None
        if kind == "team":
            t = self.teams.get(ident)
            if t is None:
                return None
            yearly, weights = t.yearly_target, self._weights(t.monthly_weights, None)
        else:
            team = self.rep_team.get(ident)
            if team is None:
                return None
            r = self.teams[team].reps[ident]
            yearly, weights = r.yearly_target, self._weights(r.monthly_weights, self.teams[team].monthly_weights)
        share = weights[month - 1] if weights is not None else Decimal(1) / 12
        return (yearly * share).quantize(_CENT)


def load_targets(path: Path | str = DEFAULT_PATH, reporting_currency: str | None = None) -> TargetsConfig:
    """The sales targets, or ConfigError `file:line: field: message`; with `reporting_currency`, the
    targets must be in it (they are compared with converted revenue)."""
    doc = read(path)
    targets = doc.validate(TargetsConfig)
    if reporting_currency is not None and targets.currency != reporting_currency:
        raise doc.error(("currency",), f"targets are in {targets.currency} but the KPIs report in "
                        f"{reporting_currency} (config/currencies.yaml): give them in {reporting_currency}")
    return targets
