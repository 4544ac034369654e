"""config/cases.yaml (+ the policy's calendars) -> CasesConfig: which feedback opens a case, SLAs, owners, or a ConfigError."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agents.escalation.calendar import Calendar
from agents.escalation.directory import Department
from pipeline import configfile
from schemas.customers import Segment
from schemas.events import Severity
from schemas.feedback import Category, Sentiment, Urgency

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "config" / "cases.yaml"
MAX_HOURS = 24 * 366  # an SLA longer than a year is a typo


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Sla(_Model):
    """Working hours (on the case calendar) to the first answer and to the resolution."""

    first_response_hours: float = Field(gt=0, le=MAX_HOURS)
    resolution_hours: float = Field(gt=0, le=MAX_HOURS)

    @model_validator(mode="after")
    def _ordered(self) -> "Sla":
        if self.resolution_hours < self.first_response_hours:
            raise ValueError(f"resolution_hours ({self.resolution_hours:g}) is shorter than "
                             f"first_response_hours ({self.first_response_hours:g})")
        return self


class CategorySla(Sla):
    """A category's SLA, and tighter (or looser) ones for some customer segments."""

    segments: dict[Segment, Sla] = {}


class Opens(_Model):
    """Classified feedback that needs an answer: every field must match."""

    sentiments: tuple[Sentiment, ...] = Field(default=("negative",), min_length=1)
    urgencies: tuple[Urgency, ...] = Field(default=("critical", "high", "normal"), min_length=1)
    categories: tuple[Category, ...] | None = None   # None: every category


class CasesConfig(_Model):
    version: Literal[1] = 1
    opens: Opens = Opens()
    calendar: str | None = "office"
    sweep_interval_s: float = Field(default=30.0, gt=0, le=3600)
    breach_severity: Severity = Severity.medium
    # a breach found longer than this after its due time (a backlog, history loaded late) is recorded on the
    # case but pages nobody: nobody can still answer in time, and thousands of such pages bury the live ones
    page_breaches_within_hours: float | None = Field(default=24.0, gt=0)
    departments: dict[Category, Department] = {}
    default_department: Department = "after_sales"
    default: CategorySla
    categories: dict[Category, CategorySla] = {}

    def sla(self, category: str, segment: str | None) -> Sla:
        """The category's SLA (else the default), overridden for the customer's segment when listed."""
        base = self.categories.get(category, self.default)
        return base.segments.get(segment, base) if segment is not None else base

    def department(self, category: str) -> str:
        return self.departments.get(category, self.default_department)


def load_cases_config(path: Path | str = DEFAULT_PATH,
                      calendars: dict[str, Calendar] | None = None) -> tuple[CasesConfig, Calendar | None]:
    """The cases config and the calendar its SLAs run on (by name among the escalation policy's
    `calendars`); ConfigError `file:line: field: message` on any mistake."""
    doc = configfile.read(path)
    cfg = doc.validate(CasesConfig)
    if cfg.calendar is None:
        return cfg, None
    known = calendars or {}
    if cfg.calendar not in known:
        raise doc.error(("calendar",), f'unknown calendar "{cfg.calendar}" (the escalation policy has: '
                                       f'{", ".join(sorted(known)) or "none"}; leave it out for around the clock)')
    return cfg, known[cfg.calendar]
