"""(incident fields, customer context, policy) -> Plan: the chain of levels, timeouts, people and playbook."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from agents.escalation.directory import department_of
from agents.escalation.policy import Match, Policy, TargetSpec
from schemas.escalation import Playbook, Target
from schemas.events import Channel, IncidentEvent, Severity


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class IncidentFields(_Model):
    """What routing looks at on an incident."""

    severity: Severity
    category: str = "other"
    channel: Channel | None = None
    region: str | None = None
    sku: str | None = None
    team: str | None = None
    department: str | None = None

    @classmethod
    def of(cls, event: IncidentEvent) -> "IncidentFields":
        return cls(severity=event.severity, category=event.category, channel=event.channel,
                   region=event.region, sku=event.sku, team=event.team, department=event.department)


class CustomerContext(_Model):
    """What the stream knows about the customer; every field optional (no profile yet is normal)."""

    segment: str | None = None
    churn_risk: float | None = Field(default=None, ge=0, le=1)
    value: Decimal | None = None
    owner_rep_id: str | None = None
    region: str | None = None

    @classmethod
    def from_profile(cls, profile) -> "CustomerContext":
        """schemas.customers.CustomerProfileSnapshot -> context (segment from RFM, value = net spend)."""
        return cls(segment=profile.rfm.segment if profile.rfm else None, churn_risk=profile.churn_risk,
                   value=profile.total_spend, owner_rep_id=profile.owner_rep_id, region=profile.region)


# The customer context port: a customer id -> what the stream knows of them (the customers
# capability provides it; the composition root hands it to the escalator)
CustomerLookup = Callable[[str], Awaitable[CustomerContext | None]]


class Step(_Model):
    """One level as this incident meets it: who, how long to wait, on which clock."""

    level: int                         # 0-based index into policy.levels
    name: str
    targets: tuple[Target, ...]
    timeout_seconds: float
    calendar: str | None = None


class Plan(_Model):
    """The chain an incident follows, fixed when it triggers (policy edits do not touch incidents in flight)."""

    route: int                         # 1-based index of the matching route
    route_name: str = ""
    boosts: tuple[str, ...] = ()
    steps: tuple[Step, ...]            # from the starting level to the last level
    inform: tuple[Step, ...] = ()      # told at once, without waiting for an ack
    repeat: int = 0
    playbook: Playbook | None = None


def matches(m: Match, f: IncidentFields, ctx: CustomerContext | None) -> bool:
    ctx = ctx or CustomerContext()
    checks = (
        (m.severity, f.severity), (m.category, f.category), (m.channel, f.channel),
        (m.region, f.region or ctx.region), (m.sku, f.sku), (m.segment, ctx.segment),
        (m.department, f.department),
    )
    if any(allowed is not None and value not in allowed for allowed, value in checks):
        return False
    if m.churn_risk_at_least is not None and (ctx.churn_risk is None or ctx.churn_risk < m.churn_risk_at_least):
        return False
    if m.value_at_least is not None and (ctx.value is None or ctx.value < m.value_at_least):
        return False
    return True


def _people(specs: tuple[TargetSpec, ...], policy: Policy, f: IncidentFields,
            ctx: CustomerContext | None) -> list[Target]:
    out: list[Target] = []
    for spec in specs:
        if spec.person is not None:
            found = (policy.directory.person(spec.person),)
        elif (dept := department_of(spec.role)) is not None:
            # a department's queue: its people of the region, else those serving every region
            found = policy.directory.resolve(dept, region=f.region or (ctx.region if ctx else None))
        else:
            found = policy.directory.resolve(spec.role, region=f.region or (ctx.region if ctx else None),
                                             owner_id=ctx.owner_rep_id if ctx else None, team=f.team)
        out.extend(policy.target(p) for p in found if p is not None)
    return out


def _unique(targets: list[Target]) -> tuple[Target, ...]:
    seen: dict[str, Target] = {}
    for t in targets:
        seen.setdefault(t.id, t)
    return tuple(seen.values())


PLAN_CACHE_SIZE = 4096


def plan(f: IncidentFields, ctx: CustomerContext | None, policy: Policy, *, start_at: str | None = None) -> Plan:
    """Route an incident; `start_at` (a level name) overrides the starting level, e.g. for a storm's parent.

    Routing is a pure function of its inputs, and most incidents share them: results are cached
    per policy (bounded; cleared when full) so a burst of incidents pays for routing once.
    """
    key = (f, ctx, start_at)
    found = policy.plans.get(key)
    if found is None:
        found = _route(f, ctx, policy, start_at)
        if len(policy.plans) >= PLAN_CACHE_SIZE:
            policy.plans.clear()
        policy.plans[key] = found
    return found


def _route(f: IncidentFields, ctx: CustomerContext | None, policy: Policy, start_at: str | None) -> Plan:
    cfg = policy.config
    index, route = next((i, r) for i, r in enumerate(cfg.routes, 1) if matches(r.match, f, ctx))
    boosts = [b for b in cfg.boosts if matches(b.match, f, ctx)] if route.boosts else []
    last = len(cfg.levels) - 1
    start = policy.level_index(start_at or route.start_level)
    if start_at is None:
        start = min(last, start + sum(b.raise_levels for b in boosts))
    factor = route.timeout_factor
    extra_specs = list(route.extra_targets)
    for b in boosts:
        factor *= b.timeout_factor
        extra_specs.extend(b.extra_targets)
    extra = _people(tuple(extra_specs), policy, f, ctx)

    def step(i: int, with_extra: bool) -> Step:
        lv = cfg.levels[i]
        people = _people(lv.targets, policy, f, ctx) + (extra if with_extra else [])
        return policy.intern(Step(level=i, name=lv.name, targets=_unique(people),
                                  timeout_seconds=lv.ack_timeout_minutes * 60 * factor,
                                  calendar=None if route.ignore_business_hours else lv.calendar))

    return Plan(
        route=index, route_name=route.name or f"route {index}",
        boosts=tuple(b.name or f"boost {cfg.boosts.index(b) + 1}" for b in boosts),
        steps=tuple(step(i, True) for i in range(start, last + 1)),
        inform=tuple(step(policy.level_index(n), False) for n in route.also_inform
                     if policy.level_index(n) != start),
        repeat=cfg.repeat, playbook=policy.playbook(f.category),
    )
