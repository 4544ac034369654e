"""config/receivables.yaml -> ReceivablesConfig (payment terms, the overdue sweep, digest delivery), or a precise ConfigError."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pipeline.configfile import load_yaml

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "config" / "receivables.yaml"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OverdueRules(_Model):
    sweep_interval_s: float = Field(60.0, gt=0)
    followup_due_hours: float = Field(48.0, gt=0)
    finance_role: str = Field("finance", min_length=1, max_length=64)


class DigestDelivery(_Model):
    check_interval_s: float = Field(60.0, gt=0)
    delay_minutes: float = Field(5.0, ge=0, le=720)
    top: int = Field(5, ge=1, le=50)


class ReceivablesConfig(_Model):
    version: Literal[1] = 1
    payment_terms_days: int = Field(30, ge=0, le=3650)
    overdue: OverdueRules = OverdueRules()
    digests: DigestDelivery = DigestDelivery()


def load_receivables_config(path: Path | str = DEFAULT_PATH) -> ReceivablesConfig:
    """The receivables config, or ConfigError `file:line: field: message`."""
    return load_yaml(path, ReceivablesConfig)
