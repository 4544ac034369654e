"""config/escalation.yaml + config/directory.yaml -> Policy (levels, routes, boosts, calendars, storm, playbooks), or a precise ConfigError."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agents.escalation.calendar import Calendar
from agents.escalation.directory import Department, Directory, department_of
from pipeline import configfile
from pipeline.configfile import ConfigProblem, Document
from pipeline.errors import ConfigError  # noqa: F401  (importable from here, as before)
from schemas.customers import Segment
from schemas.escalation import Playbook, PlaybookStep, Target
from schemas.events import Channel, Severity

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"
DEFAULT_POLICY = CONFIG_DIR / "escalation.yaml"
DEFAULT_DIRECTORY = CONFIG_DIR / "directory.yaml"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TargetSpec(_Model):
    """Whom a level notifies: a role resolved through the directory (a department's role or its queue,
    `queue:<department>`, resolves to that department's people of the region), or one named person."""

    role: str | None = None
    person: str | None = None

    @model_validator(mode="after")
    def _one(self) -> "TargetSpec":
        if (self.role is None) == (self.person is None):
            raise ValueError("a target names exactly one of role or person")
        return self


class Level(_Model):
    name: str = Field(min_length=1, max_length=64)
    description: str = ""
    targets: tuple[TargetSpec, ...] = Field(min_length=1)
    ack_timeout_minutes: float = Field(gt=0, le=7 * 24 * 60)
    calendar: str | None = None       # name in `calendars`; None = the clock always runs


class Match(_Model):
    """Every field given must match (lists mean any of); fields left out match everything."""

    severity: tuple[Severity, ...] | None = None
    category: tuple[str, ...] | None = None
    channel: tuple[Channel, ...] | None = None
    region: tuple[str, ...] | None = None
    sku: tuple[str, ...] | None = None
    segment: tuple[Segment, ...] | None = None
    # the department whose queue owns the work the incident is about (a case nobody owns: after_sales, ...)
    department: tuple[Department, ...] | None = None
    churn_risk_at_least: float | None = Field(default=None, ge=0, le=1)
    value_at_least: Decimal | None = Field(default=None, ge=0)

    @property
    def is_catch_all(self) -> bool:
        return all(v is None for v in self.model_dump().values())


class Route(_Model):
    """First matching route picks the starting level, timeout factor, who is informed at once, extra targets."""

    name: str = ""
    match: Match = Match()
    start_level: str
    timeout_factor: float = Field(default=1.0, gt=0, le=100)
    also_inform: tuple[str, ...] = ()
    extra_targets: tuple[TargetSpec, ...] = ()
    ignore_business_hours: bool = False
    boosts: bool = True   # False: no boost applies (the route names exactly who is paged first)


class Boost(_Model):
    """Every matching boost applies on top of the route: raise the start, scale timeouts, add targets."""

    name: str = ""
    match: Match
    raise_levels: int = Field(default=0, ge=0)
    timeout_factor: float = Field(default=1.0, gt=0, le=100)
    extra_targets: tuple[TargetSpec, ...] = ()


class Storm(_Model):
    """Many new incidents on one sku or region within a window -> one parent incident, children held back."""

    group_by: tuple[Literal["sku", "region"], ...] = Field(default=("sku", "region"), min_length=1)
    window_minutes: float = Field(gt=0, le=24 * 60)
    threshold: int = Field(ge=2)
    level: str
    # categories whose incidents neither form nor join a storm: work one person owns (a case's missed SLA)
    # is paged to that person even when many fall due at once
    exempt_categories: tuple[str, ...] = ()


class PlaybookConfig(_Model):
    summary: str = ""
    steps: tuple[PlaybookStep, ...] = Field(min_length=1)


class EscalationConfig(_Model):
    version: Literal[1] = 1
    levels: tuple[Level, ...] = Field(min_length=1)
    repeat: int = Field(default=0, ge=0, le=10)
    calendars: dict[str, Calendar] = {}
    routes: tuple[Route, ...] = Field(min_length=1)
    boosts: tuple[Boost, ...] = ()
    storm: Storm | None = None
    playbooks: dict[str, PlaybookConfig] = {}
    default_playbook: str | None = None


@dataclass(frozen=True)
class Policy:
    """The validated escalation config and the directory it resolves people through."""

    config: EscalationConfig
    directory: Directory
    # routing results by (fields, customer context, start level): a policy never changes once loaded
    plans: dict = field(default_factory=dict, compare=False, repr=False, hash=False)
    # one Target per person, one Step / Playbook per distinct value: the thousands of cached plans share
    # them instead of each holding copies (every pydantic instance is three objects the GC walks)
    shared: dict = field(default_factory=dict, compare=False, repr=False, hash=False)

    @property
    def levels(self) -> tuple[Level, ...]:
        return self.config.levels

    def level_index(self, name: str) -> int:
        return next(i for i, lv in enumerate(self.config.levels) if lv.name == name)

    def calendar(self, name: str | None) -> Calendar | None:
        return self.config.calendars.get(name) if name else None

    def playbook(self, category: str) -> Playbook | None:
        name = category if category in self.config.playbooks else self.config.default_playbook
        pb = self.config.playbooks.get(name) if name else None
        if pb is None:
            return None
        return self._share(("playbook", name), lambda: Playbook(name=name, summary=pb.summary, steps=pb.steps))

    def target(self, person) -> Target:
        """The directory person as an alert target (one shared instance per person)."""
        return self._share(("target", person.id), person.target)

    def intern(self, value):
        """An equal value seen before, or this one."""
        return self._share(value, lambda: value)

    def _share(self, key, make):
        """`shared[key]`, made once (bounded like the plan cache)."""
        found = self.shared.get(key)
        if found is None:
            if len(self.shared) >= 4096:
                self.shared.clear()
            found = self.shared[key] = make()
        return found


def _check(cfg: EscalationConfig, directory: Directory) -> None:
    """Cross-references a schema cannot see; the first problem raises ConfigProblem at its place."""
    names: dict[str, int] = {}
    for i, lv in enumerate(cfg.levels, 1):
        at = ("levels", i - 1)
        if lv.name in names:
            raise ConfigProblem((*at, "name"), f'level {i} repeats the name "{lv.name}" of level {names[lv.name]}')
        names[lv.name] = i
        if lv.calendar is not None and lv.calendar not in cfg.calendars:
            raise ConfigProblem((*at, "calendar"), f'level {i} "{lv.name}" uses unknown calendar "{lv.calendar}"')
        _check_targets(lv.targets, f'level {i} "{lv.name}"', (*at, "targets"), directory)

    def level(ref: str, where: str, loc: tuple) -> None:
        if ref not in names:
            raise ConfigProblem(loc, f'{where} names unknown level "{ref}" (levels: {", ".join(names)})')

    for i, r in enumerate(cfg.routes, 1):
        at = ("routes", i - 1)
        level(r.start_level, f"route {i}", (*at, "start_level"))
        for k, ref in enumerate(r.also_inform):
            level(ref, f"route {i} also_inform", (*at, "also_inform", k))
        _check_targets(r.extra_targets, f"route {i} extra_targets", (*at, "extra_targets"), directory)
    if not cfg.routes[-1].match.is_catch_all:
        raise ConfigProblem(("routes", len(cfg.routes) - 1, "match"),
                            f"route {len(cfg.routes)} is the last route and must match everything "
                            "(leave out `match`), so every incident gets a chain")
    for i, b in enumerate(cfg.boosts, 1):
        _check_targets(b.extra_targets, f"boost {i} extra_targets", ("boosts", i - 1, "extra_targets"), directory)
    if cfg.storm is not None:
        level(cfg.storm.level, "storm", ("storm", "level"))
    if cfg.default_playbook is not None and cfg.default_playbook not in cfg.playbooks:
        raise ConfigProblem(("default_playbook",), f'default_playbook names unknown playbook "{cfg.default_playbook}"')
    owners = directory.roles | {p.id for p in directory.people}
    for cat, pb in cfg.playbooks.items():
        for j, step in enumerate(pb.steps, 1):
            if (why := directory.unknown_queue(step.owner)) is not None:
                raise ConfigProblem(("playbooks", cat, "steps", j - 1, "owner"), f'playbook "{cat}" step {j}: {why}')
            if step.owner not in owners and department_of(step.owner) is None:
                raise ConfigProblem(("playbooks", cat, "steps", j - 1, "owner"),
                                    f'playbook "{cat}" step {j} names unknown owner "{step.owner}" '
                                    "(a role, a person id or a queue:<department> in the directory)")


def _check_targets(targets, where: str, loc: tuple, directory: Directory) -> None:
    for j, t in enumerate(targets):
        if t.role is not None and (why := directory.unknown_queue(t.role)) is not None:
            raise ConfigProblem((*loc, j, "role"), f"{where} targets {why}")
        if t.role is not None and department_of(t.role) is None and t.role not in directory.roles:
            raise ConfigProblem((*loc, j, "role"), f'{where} targets role "{t.role}" that nobody in the directory '
                                f'holds (roles: {", ".join(sorted(directory.roles))})')
        if t.person is not None and directory.person(t.person) is None:
            raise ConfigProblem((*loc, j, "person"), f'{where} targets unknown person "{t.person}"')


def read_yaml(path: Path | str, what: str = "") -> dict[str, Any]:
    """The top-level mapping of a YAML file, or ConfigError naming file and line (`what` is unused)."""
    return configfile.read(path).data


def build_policy(policy: dict[str, Any] | Document, directory: dict[str, Any] | Document, *,
                 policy_name: str = "escalation policy", directory_name: str = "directory") -> Policy:
    """Validate parsed files (or plain mappings, reported under the two names); a problem is one ConfigError line."""
    pol = policy if isinstance(policy, Document) else Document(policy_name, policy)
    dire = directory if isinstance(directory, Document) else Document(directory_name, directory)
    d = dire.validate(Directory)
    cfg = pol.validate(EscalationConfig)
    try:
        _check(cfg, d)
    except ConfigProblem as exc:
        raise pol.error(exc.loc, str(exc)) from None
    return Policy(config=cfg, directory=d)


def load_policy(policy_path: Path | str = DEFAULT_POLICY, directory_path: Path | str = DEFAULT_DIRECTORY) -> Policy:
    """Read and validate both files at start-up; refuse with ConfigError `file:line: field: message`."""
    return build_policy(configfile.read(policy_path), configfile.read(directory_path))
