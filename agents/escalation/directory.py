"""config/directory.yaml -> Directory of people and service accounts; (role, team, region) -> the people to notify."""

from __future__ import annotations

import re
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pipeline.configfile import ConfigProblem
from schemas.escalation import Target

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# What a service token may read; people read every route their scope allows and never need these.
ReadScope = Literal["read:incidents", "read:customers", "read:kpis", "read:cases", "read:followups", "read:coaching"]
READ_SCOPES: tuple[str, ...] = get_args(ReadScope)
# The departments sales works with: directory roles whose holders serve a queue of work nobody owns
Department = Literal["after_sales", "tech_support", "finance", "marketing"]
DEPARTMENTS: tuple[str, ...] = get_args(Department)
QUEUE = "queue:"


def queue_of(department: str) -> str:
    """after_sales -> queue:after_sales (what an owner field holds when a department owns the work)."""
    return f"{QUEUE}{department}"


def department_of(ref: str | None) -> str | None:
    """queue:after_sales -> after_sales; anything else (a person id, a role, None) -> None."""
    return ref[len(QUEUE):] if ref is not None and ref.startswith(QUEUE) else None


def _token_hash(v: str | None) -> str | None:
    if v is not None and not _SHA256.match(v):
        raise ValueError("token_sha256 must be 64 lowercase hex digits (sha256 of the token, not the token)")
    return v


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Person(_Model):
    id: str = Field(min_length=1, max_length=128)
    name: str = Field(min_length=1, max_length=200)
    role: str = Field(min_length=1, max_length=64)
    team: str | None = None
    region: str | None = None          # None: covers every region
    email: str | None = None
    webhook: str | None = None
    token_sha256: str | None = None    # hex sha256 of the person's API token; the token itself is never stored
    # the feedback digests this person receives (by email and / or webhook), cut to their region, else team
    digests: tuple[Literal["hourly", "daily"], ...] = ()
    # new follow-ups are told by these channels, batched: one message per this many minutes at most
    notify: tuple[Literal["email", "webhook"], ...] = ()
    notify_every_minutes: float | None = Field(default=None, gt=0)

    @field_validator("email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+", v):
            raise ValueError(f"not an email address: {v!r}")
        return v

    @field_validator("webhook")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^https?://[^\s/]+", v):
            raise ValueError(f"webhook must be an http(s) URL, got {v!r}")
        return v

    @field_validator("token_sha256")
    @classmethod
    def _hash(cls, v: str | None) -> str | None:
        return _token_hash(v)

    @model_validator(mode="after")
    def _reachable(self) -> "Person":
        if self.digests and not (self.email or self.webhook):
            raise ValueError(f"{self.id!r} subscribes to digests but has no email or webhook to receive them")
        return self

    @model_validator(mode="after")
    def _notify_has_address(self) -> "Person":
        for k, channel in enumerate(self.notify):
            if getattr(self, channel) is None:
                raise ConfigProblem(("notify", k), f"person {self.id!r} is notified by {channel} but has no {channel}")
        return self

    def target(self) -> Target:
        return Target(id=self.id, name=self.name, role=self.role, email=self.email, webhook=self.webhook)


class Service(_Model):
    """A machine reader (a BI tool, Grafana): reads what its scopes name, in its region; never acts."""

    id: str = Field(min_length=1, max_length=128)
    name: str = Field(min_length=1, max_length=200)
    scopes: tuple[ReadScope, ...] = Field(min_length=1)
    region: str | None = None          # None: every region
    token_sha256: str

    @field_validator("token_sha256")
    @classmethod
    def _hash(cls, v: str) -> str:
        return _token_hash(v)

    @property
    def team(self) -> None:
        """Services belong to no team (the scope rule reads a reader's team)."""
        return None


class Directory(_Model):
    version: Literal[1] = 1
    people: tuple[Person, ...] = Field(min_length=1)
    fallback: tuple[str, ...] = ()      # person ids told when a role resolves to nobody
    services: tuple[Service, ...] = ()  # machine readers with a token of their own

    @model_validator(mode="after")
    def _consistent(self) -> "Directory":
        seen: set[str] = set()
        hashes: dict[str, str] = {}
        for i, p in enumerate(self.people, 1):
            if p.id in seen:
                raise ConfigProblem(("people", i - 1, "id"), f"person {i} repeats id {p.id!r}")
            seen.add(p.id)
            if p.token_sha256:
                if p.token_sha256 in hashes:
                    raise ConfigProblem(("people", i - 1, "token_sha256"),
                                        f"people {hashes[p.token_sha256]!r} and {p.id!r} share one API token")
                hashes[p.token_sha256] = p.id
        for k, pid in enumerate(self.fallback):
            if pid not in seen:
                raise ConfigProblem(("fallback", k), f"fallback names unknown person {pid!r}")
        for i, svc in enumerate(self.services, 1):
            if svc.id in seen:
                raise ConfigProblem(("services", i - 1, "id"),
                                    f"service {i} repeats id {svc.id!r} (ids are shared by people and services)")
            seen.add(svc.id)
            if svc.token_sha256 in hashes:
                raise ConfigProblem(("services", i - 1, "token_sha256"),
                                    f"{hashes[svc.token_sha256]!r} and service {svc.id!r} share one API token")
            hashes[svc.token_sha256] = svc.id
        return self

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(p.role for p in self.people)

    def unknown_queue(self, ref: str) -> str | None:
        """Why `ref` (`queue:<department>`) cannot be served, or None when someone holds the department's role."""
        dept = department_of(ref)
        if dept is None:
            return None
        if dept not in DEPARTMENTS:
            return f'"{ref}" names unknown department "{dept}" (departments: {", ".join(DEPARTMENTS)})'
        if dept not in self.roles:
            return f'"{ref}" is a queue nobody serves: no one in the directory holds role "{dept}"'
        return None

    def person(self, pid: str | None) -> Person | None:
        return next((p for p in self.people if p.id == pid), None) if pid else None

    def team_region(self, team: str | None) -> str | None:
        """The region every member of `team` is in, if they share one (a team's incident reaches its region's manager)."""
        regions = {p.region for p in self.people if team is not None and p.team == team}
        return regions.pop() if len(regions) == 1 else None

    def resolve(self, role: str, *, region: str | None = None, owner_id: str | None = None,
                team: str | None = None) -> tuple[Person, ...]:
        """People holding `role` for a customer: the owner, else their team (or the incident's `team`),
        else the region, else global, else fallback."""
        owner = self.person(owner_id)
        holders = [p for p in self.people if p.role == role]
        if owner is not None and owner.role == role:
            return (owner,)
        team = owner.team if owner is not None and owner.team is not None else team
        region = region or (owner.region if owner is not None else None) or self.team_region(team)
        for keep in (lambda p: team is not None and p.team == team,
                     lambda p: region is not None and p.region == region,
                     lambda p: p.region is None):
            chosen = tuple(p for p in holders if keep(p))
            if chosen:
                return chosen
        return tuple(p for p in self.people if p.id in self.fallback)
