"""config/signals.yaml -> SignalsConfig (what counts as a business signal and how sure it must be), or a ConfigError."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pipeline.configfile import ConfigProblem, load_yaml
from schemas.events import Channel, Severity

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "config" / "signals.yaml"
Subject = Literal["sku", "category", "region"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RateTest(_Model):
    """The evidence a rising count must show: all three bars at once."""

    window_buckets: int = Field(1, ge=1, le=168)
    baseline_buckets: int = Field(24, ge=2, le=24 * 60)
    min_count: int = Field(8, ge=1)
    min_ratio: float = Field(3.0, gt=1)
    max_p_value: float = Field(1e-7, gt=0, lt=1)
    quiet_buckets: int = Field(3, ge=0, le=24 * 60)
    severity: Severity = Severity.high

    @model_validator(mode="after")
    def _baseline_longer(self) -> "RateTest":
        if self.baseline_buckets < self.window_buckets:
            raise ConfigProblem(("baseline_buckets",), f"the baseline ({self.baseline_buckets} buckets) must be at "
                                f"least as long as the window ({self.window_buckets})")
        return self


class Complaints(RateTest):
    enabled: bool = True
    subjects: tuple[Subject, ...] = Field(("sku", "category", "region"), min_length=1)


class NegativeShare(RateTest):
    enabled: bool = True
    min_count: int = Field(20, ge=1)
    min_ratio: float = Field(1.5, gt=1)
    severity: Severity = Severity.medium


class TargetPace(_Model):
    enabled: bool = True
    kinds: tuple[Literal["team", "rep"], ...] = Field(("team", "rep"), min_length=1)
    after_day: int = Field(10, ge=1, le=28)
    pace_floor: float = Field(0.7, gt=0, lt=1)
    severity: Severity = Severity.medium


class CampaignRoi(_Model):
    enabled: bool = True
    min_spend: float = Field(1000.0, ge=0)
    roi_floor: float = Field(0.0, ge=-1)
    severity: Severity = Severity.medium


class SignalsConfig(_Model):
    version: Literal[1] = 1
    bucket_minutes: int = Field(60, ge=1, le=24 * 60)
    order_horizon_days: float = Field(30.0, gt=0, le=366)
    max_orders: int = Field(500_000, ge=1)
    tick_seconds: float = Field(300.0, ge=1)
    company_channel: Channel = Channel.web
    complaints: Complaints = Complaints()
    negative_share: NegativeShare = NegativeShare()
    target_pace: TargetPace = TargetPace()
    campaign_roi: CampaignRoi = CampaignRoi()

    @model_validator(mode="after")
    def _divides_a_day(self) -> "SignalsConfig":
        if (24 * 60) % self.bucket_minutes:
            raise ConfigProblem(("bucket_minutes",), f"{self.bucket_minutes} does not divide a day (1440 minutes): "
                                "buckets must start at the same times every day")
        return self


def load_signals(path: Path | str = DEFAULT_PATH) -> SignalsConfig:
    """The signals config, or ConfigError `file:line: field: message`."""
    return load_yaml(path, SignalsConfig)
