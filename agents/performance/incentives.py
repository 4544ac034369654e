"""config/incentives.yaml -> IncentivesConfig; plan + order events + target + rates -> Statement (revenue,
attainment, marginal-tier commission, cap, team bonus, and the lines a rep can check it by).

Revenue of a period: payments made in it, net of the refunds and cancellations made within the plan's
`clawback_days` of each payment (agents.performance.ledger). Tiers are marginal on attainment (revenue /
target): the part of revenue between two tiers' `from` x target earns that tier's rate, so commission is
continuous and never falls when revenue rises. Money stays exact (Decimal) and is rounded to cents only in
`Statement.to_dict`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agents.performance.ledger import Ledger, Settled, ledger, settle
from agents.performance.period import Period, parse_period
from pipeline.configfile import ConfigProblem, read
from pipeline.currency import Rates
from pipeline.errors import UserInputError
from pipeline.metrics import ISO_4217
from schemas.events import OrderEvent

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "config" / "incentives.yaml"
_CENT = Decimal("0.01")
_RATIO = Decimal("0.0001")
Share = Annotated[Decimal, Field(ge=0, le=100, max_digits=12, decimal_places=6)]
Amount = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=4)]


def _decimal(v: object) -> object:
    """YAML reads 0.05 as a float: take its shortest spelling, not its binary value."""
    if isinstance(v, bool):
        raise ValueError("must be a number, not a boolean")
    return Decimal(repr(v)) if isinstance(v, float) else v


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Tier(_Model):
    start: Share = Field(alias="from")     # attainment (fraction of target) where the tier begins
    rate: Annotated[Decimal, Field(ge=0, le=1, max_digits=12, decimal_places=8)]

    _d = field_validator("start", "rate", mode="before")(_decimal)


class TeamBonus(_Model):
    threshold: Annotated[Decimal, Field(gt=0, le=100, max_digits=12, decimal_places=6)]
    amount: Amount

    _d = field_validator("threshold", "amount", mode="before")(_decimal)


class AppliesTo(_Model):
    role: str | None = Field(default=None, min_length=1)
    person: str | None = Field(default=None, min_length=1)
    team: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one(self) -> "AppliesTo":
        given = [k for k in ("role", "person", "team") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of role, person, team (got {', '.join(given) or 'none'})")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("person", "team", "role") if getattr(self, k) is not None)


class Plan(_Model):
    name: str = Field(min_length=1, max_length=128)
    applies_to: AppliesTo
    period: Literal["month", "quarter"]
    metric: Literal["revenue"] = "revenue"
    tiers: tuple[Tier, ...] = Field(min_length=1)
    cap: Amount | None = None
    clawback_days: int = Field(ge=0, le=3650)
    team_bonus: TeamBonus | None = None

    _d = field_validator("cap", mode="before")(_decimal)

    @model_validator(mode="after")
    def _tiers_ascend(self) -> "Plan":
        if self.tiers[0].start != 0:
            raise ConfigProblem(("tiers", 0, "from"), f"the first tier must start at 0 (attainment 0%), "
                                f"not {self.tiers[0].start}")
        for i in range(1, len(self.tiers)):
            if self.tiers[i].start <= self.tiers[i - 1].start:
                raise ConfigProblem(("tiers", i, "from"), f"tier {i + 1} starts at {self.tiers[i].start}, not above "
                                    f"tier {i}'s {self.tiers[i - 1].start}: tiers ascend")
        return self


class IncentivesConfig(_Model):
    reporting_currency: str
    # no min_length here: pydantic would add "at least 1 item" to every error inside a plan
    plans: tuple[Plan, ...]

    @field_validator("reporting_currency")
    @classmethod
    def _iso(cls, v: str) -> str:
        if v not in ISO_4217:
            raise ValueError(f"unknown currency code {v!r} (ISO 4217, e.g. USD, EUR)")
        return v

    @model_validator(mode="after")
    def _unique(self) -> "IncentivesConfig":
        if not self.plans:
            raise ConfigProblem(("plans",), "give at least one plan")
        names: dict[str, int] = {}
        scopes: dict[tuple[str, str, str], int] = {}
        for i, p in enumerate(self.plans):
            if (j := names.setdefault(p.name, i)) != i:
                raise ConfigProblem(("plans", i, "name"), f"plan {i + 1} repeats the name {p.name!r} of plan {j + 1}")
            who = (p.applies_to.kind, getattr(p.applies_to, p.applies_to.kind), p.period)
            if (j := scopes.setdefault(who, i)) != i:
                raise ConfigProblem(("plans", i, "applies_to"), f"plans {j + 1} and {i + 1} both apply to "
                                    f"{who[0]} {who[1]!r} per {p.period}: one plan per person and period")
        return self


def _teams_match(plan_team: str, team: str | None) -> bool:
    """Targets name teams `north`, the directory `team-north`: either spelling matches."""
    return team is not None and (plan_team == team or f"team-{plan_team}" == team or plan_team == f"team-{team}")


def load_plans(path: Path | str = DEFAULT_PATH, *, reporting_currency: str | None = None,
               directory=None) -> IncentivesConfig:
    """The incentive plans, or ConfigError `file:line: key: message`. With `reporting_currency` (of
    config/currencies.yaml) the plans must be in it; with a Directory, every `applies_to` must name a role
    someone holds, a person or a team in it."""
    doc = read(path)
    cfg = doc.validate(IncentivesConfig)
    if reporting_currency is not None and cfg.reporting_currency != reporting_currency:
        raise doc.error(("reporting_currency",), f"plans are in {cfg.reporting_currency} but revenue is reported in "
                        f"{reporting_currency} (config/currencies.yaml): give them in {reporting_currency}")
    if directory is not None:
        teams = {p.team for p in directory.people if p.team}
        for i, p in enumerate(cfg.plans):
            a = p.applies_to
            if a.role is not None and a.role not in directory.roles:
                raise doc.error(("plans", i, "applies_to", "role"), f"plan {p.name!r} applies to role {a.role!r} that "
                                f"nobody in the directory holds (roles: {', '.join(sorted(directory.roles))})")
            if a.person is not None and directory.person(a.person) is None:
                raise doc.error(("plans", i, "applies_to", "person"), f"plan {p.name!r} applies to {a.person!r}, "
                                "who is not in the directory")
            if a.team is not None and not any(_teams_match(a.team, t) for t in teams):
                raise doc.error(("plans", i, "applies_to", "team"), f"plan {p.name!r} applies to team {a.team!r} "
                                f"that is not in the directory (teams: {', '.join(sorted(teams))})")
    return cfg


def plan_for(cfg: IncentivesConfig, person_id: str, role: str | None, team: str | None,
             period: str | None = None) -> Plan | None:
    """The plan that pays `person_id`: one naming them, else their team, else their role (the first in the
    file at each level); with `period` ("month" / "quarter") only plans of that period."""
    plans = [p for p in cfg.plans if period is None or p.period == period]
    for match in (lambda a: a.person == person_id,
                  lambda a: a.team is not None and _teams_match(a.team, team),
                  lambda a: role is not None and a.role == role):
        found = next((p for p in plans if match(p.applies_to)), None)
        if found is not None:
            return found
    return None


def events_window(plan: Plan, period: Period) -> tuple[datetime, datetime]:
    """The occurred_at range [start, end) of the order events a statement of `period` reads: its payments and
    the reversals that can still claw them back."""
    return period.start, period.end + timedelta(days=plan.clawback_days)


def period_target(targets, kind: Literal["team", "rep"], ident: str, period: Period) -> Decimal | None:
    """The revenue target of a rep or team for the period (a quarter: the sum of its months), from a
    TargetsConfig; None when any month has none."""
    parts = [targets.monthly(kind, ident, period.year, m) for m in period.months]
    return None if any(p is None for p in parts) else sum(parts, Decimal(0))


# ---- the statement ---------------------------------------------------------------------------------

def commission_parts(tiers: tuple[Tier, ...], target: Decimal, low: Decimal, high: Decimal) -> list[tuple[int, Decimal]]:
    """The revenue between `low` and `high` (cumulative, `low` <= `high`) split by tier -> [(tier index, part)]."""
    out = []
    for i, t in enumerate(tiers):
        lo = t.start * target
        hi = tiers[i + 1].start * target if i + 1 < len(tiers) else None
        part = (min(high, hi) if hi is not None else high) - max(low, lo)
        if part > 0:
            out.append((i, part))
    return out


def commission(tiers: tuple[Tier, ...], target: Decimal, revenue: Decimal) -> Decimal:
    """Marginal commission on `revenue` against `target` (before any cap)."""
    return sum((tiers[i].rate * part for i, part in commission_parts(tiers, target, Decimal(0), max(revenue, Decimal(0)))),
               Decimal(0))


@dataclass(frozen=True)
class Statement:
    rep: str
    period: str
    plan: str
    currency: str
    revenue: Decimal
    target: Decimal | None
    attainment: Decimal | None
    commission_before_cap: Decimal | None
    commission: Decimal | None
    cap: Decimal | None
    team_revenue: Decimal | None
    team_target: Decimal | None
    team_bonus: Decimal
    lines: tuple[dict, ...]

    @property
    def total(self) -> Decimal | None:
        return None if self.commission is None else self.commission + self.team_bonus

    def to_dict(self) -> dict:
        """The JSON a rep checks: money as strings with 2 decimals, attainment with 4."""
        return {"rep": self.rep, "period": self.period, "plan": self.plan, "currency": self.currency,
                "revenue": _cents(self.revenue), "target": _cents(self.target),
                "attainment": _ratio(self.attainment), "commission": _cents(self.commission),
                "commission_before_cap": _cents(self.commission_before_cap), "cap": _cents(self.cap),
                "team_revenue": _cents(self.team_revenue), "team_target": _cents(self.team_target),
                "team_bonus": _cents(self.team_bonus), "total": _cents(self.total),
                "lines": [{k: _plain(v) for k, v in line.items()} for line in self.lines]}


def _cents(d: Decimal | None) -> str | None:
    return None if d is None else str(d.quantize(_CENT))


def _as_given(d: Decimal) -> Decimal:
    """An amount in its own currency: 2 places, or more when the event gave more (nothing is rounded away)."""
    q = d.quantize(_CENT)
    return q if q == d else d.normalize()


def _ratio(d: Decimal | None) -> str | None:
    return None if d is None else str(d.quantize(_RATIO))


def _plain(v):
    if isinstance(v, Decimal):
        return _cents(v)
    if isinstance(v, datetime):
        return v.astimezone(timezone.utc).isoformat()
    if isinstance(v, list):
        return [{k: _plain(x) for k, x in item.items()} for item in v]
    return v


def _settled(book: Ledger, reps: Collection[str], period: Period, clawback_days: int) -> list[Settled]:
    return sorted((settle(p, book.reversals.get(oid, ()), clawback_days) for oid, p in book.payments.items()
                   if p.rep in reps and p.at in period), key=lambda s: (s.payment.at, s.payment.order_id))


def statement(plan: Plan, orders: Iterable[OrderEvent], rep: str, period: str, target: Decimal | None,
              rates: Rates, team_reps: Collection[str] = (), team_target: Decimal | None = None) -> Statement:
    """One rep's statement for `period` ("2026-11" / "2026-Q4", of the plan's kind). Without a target the
    commission cannot be placed on tiers: it is None (the team bonus still is computed)."""
    p = parse_period(period)
    if p.kind != plan.period:
        raise UserInputError(f"plan {plan.name!r} pays per {plan.period}; period {period!r} is a {p.kind}")
    book = ledger(orders, rates)
    mine = _settled(book, {rep}, p, plan.clawback_days)
    revenue = sum((s.net for s in mine), Decimal(0))
    usable = target if target is not None and target > 0 else None
    lines: list[dict] = []
    running = Decimal(0)
    for s in mine:
        pay = s.payment
        line = {"kind": "order", "order_id": pay.order_id, "date": pay.at, "amount": pay.amount,
                "paid": f"{_as_given(pay.paid)} {pay.currency}", "net": s.net}
        if usable is not None:
            parts = commission_parts(plan.tiers, usable, running, running + s.net)
            first = parts[0][0] if parts else _tier_at(plan.tiers, usable, running)
            line |= {"tier": first + 1, "rate": str(plan.tiers[first].rate),
                     "commission": sum((plan.tiers[i].rate * part for i, part in parts), Decimal(0))}
            if len(parts) > 1:
                line["spans"] = [{"tier": i + 1, "rate": str(plan.tiers[i].rate), "amount": part} for i, part in parts]
        running += s.net
        lines.append(line)
        for c in s.clawbacks:
            lines.append({"kind": "clawback" if c.counted else "late_reversal", "order_id": pay.order_id,
                          "status": c.reversal.status, "date": c.reversal.at,
                          "amount": -c.amount if c.counted else c.amount,
                          "days_after_payment": str(c.days.quantize(Decimal("0.01")))})
    mine_ids = {s.payment.order_id for s in mine}
    for u in book.unconverted:
        # a payment by its rep and time; a refund no rate covers by the payment it would have reduced
        if (u.rep == rep and u.at in p) if u.status == "paid" else u.order_id in mine_ids:
            lines.append({"kind": "unconverted", "order_id": u.order_id, "status": u.status, "date": u.at,
                          "amount": f"{_as_given(u.amount)} {u.currency}"})
    raw = None if usable is None else commission(plan.tiers, usable, revenue)
    paid = None if raw is None else min(raw, plan.cap) if plan.cap is not None else raw
    team_revenue, bonus = None, Decimal(0)
    if rep in team_reps:
        team_revenue = sum((s.net for s in _settled(book, set(team_reps), p, plan.clawback_days)), Decimal(0))
        if (plan.team_bonus is not None and team_target is not None and team_target > 0
                and team_revenue >= plan.team_bonus.threshold * team_target):
            bonus = plan.team_bonus.amount
    return Statement(rep, p.text, plan.name, rates.reporting_currency, revenue, target,
                     None if usable is None else revenue / usable, raw, paid, plan.cap, team_revenue, team_target,
                     bonus, tuple(lines))


def _tier_at(tiers: tuple[Tier, ...], target: Decimal, revenue: Decimal) -> int:
    """The tier cumulative `revenue` sits in (an order that adds nothing is shown at that tier)."""
    return max(i for i, t in enumerate(tiers) if t.start * target <= revenue)


@dataclass(frozen=True)
class Placement:
    """Which plan pays a rep, against which revenue target, with which team (for the team bonus)."""

    plan: Plan
    target: Decimal | None
    team_reps: tuple[str, ...]
    team_target: Decimal | None


def place(cfg: IncentivesConfig, targets, directory, rep: str, period: Period) -> Placement | None:
    """The plan naming the rep, else their team's, else their role's (config/directory.yaml), with the rep's
    and their team's revenue targets of the period (config/targets.yaml); None when no plan applies."""
    person = directory.person(rep) if directory is not None else None
    team = targets.rep_team.get(rep)
    plan = plan_for(cfg, rep, person.role if person else None, (person.team if person else None) or team, period.kind)
    if plan is None:
        return None
    team_reps = tuple(r for r, t in targets.rep_team.items() if t == team) if team else ()
    return Placement(plan, period_target(targets, "rep", rep, period), team_reps,
                     period_target(targets, "team", team, period) if team else None)
