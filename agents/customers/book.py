"""Events for many customers -> their profiles and the shared RFM population (one worker's share, or a replay)."""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import cache
from typing import Iterable

from agents.customers.config import ScoringParams
from agents.customers.profile import CustomerProfile, apply_feedback, apply_order, open_incident
from agents.customers.rfm import RfmPopulation
from agents.customers.snapshot import build_snapshot
from pipeline.currency import Rates, load_rates
from schemas.customers import CustomerProfileSnapshot
from schemas.events import IncidentEvent, OrderEvent


@cache
def _shipped_rates() -> Rates:
    return load_rates()


class CustomerBook:
    """Keeps population and profiles consistent: every update moves the customer's RFM key.

    `rates` convert order amounts into the reporting currency (default: the shipped
    config/currencies.yaml); profiles loaded from their stored form hold amounts already converted."""

    def __init__(self, params: ScoringParams | None = None, profiles: Iterable[CustomerProfile] = (),
                 rates: Rates | None = None) -> None:
        self.params = params or ScoringParams()
        self.rates = rates if rates is not None else _shipped_rates()
        self.profiles: dict[str, CustomerProfile] = {p.customer_id: p for p in profiles}
        self.population = RfmPopulation(k for p in self.profiles.values() if (k := p.rfm_key()) is not None)

    def profile(self, customer_id: str) -> CustomerProfile:
        p = self.profiles.get(customer_id)
        if p is None:
            p = self.profiles[customer_id] = CustomerProfile(customer_id)
        return p

    def order(self, e: OrderEvent) -> CustomerProfile:
        p = self.profile(e.customer_id)
        before = p.rfm_key()
        if apply_order(p, e, self.rates):
            self.population.update(before, p.rfm_key())
        return p

    def feedback(self, customer_id: str, event_id: uuid.UUID, occurred_at: datetime, sentiment_score: float,
                 negative: bool, category: str) -> tuple[CustomerProfile, bool]:
        p = self.profile(customer_id)
        return p, apply_feedback(p, event_id, occurred_at, sentiment_score, negative, category, self.params)

    def incident(self, e: IncidentEvent) -> CustomerProfile:
        p = self.profile(e.customer_id)
        open_incident(p, e.incident_key)
        return p

    def snapshot(self, customer_id: str, now: datetime) -> CustomerProfileSnapshot:
        return build_snapshot(self.profile(customer_id), self.population, now, self.params,
                              currency=self.rates.reporting_currency)

    def snapshots(self, now: datetime) -> list[CustomerProfileSnapshot]:
        return [self.snapshot(cid, now) for cid in sorted(self.profiles)]
