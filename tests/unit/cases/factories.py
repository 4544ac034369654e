"""Classified feedback and case cores for the cases tests."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from agents.cases.config import CasesConfig
from agents.cases.core import CaseCore
from agents.escalation.calendar import Calendar
from agents.escalation.policy import load_policy
from schemas.events import Channel
from schemas.feedback import ClassifiedFeedback

MON_10 = datetime(2026, 11, 2, 10, 0, tzinfo=timezone.utc)  # a Monday, inside office hours
OFFICE = Calendar(timezone="UTC", days=("mon", "tue", "wed", "thu", "fri"))
_POLICY = load_policy()


def make_cf(customer_id: str = "c-1", category: str = "delivery", *, sentiment: str = "negative",
            urgency: str = "normal", at: datetime = MON_10, event_id: uuid.UUID | None = None) -> ClassifiedFeedback:
    return ClassifiedFeedback(
        event_id=event_id or uuid.uuid4(), occurred_at=at, channel=Channel.email, customer_id=customer_id,
        text="the parcel is late again", classified_at=at, language="en", category=category, sentiment=sentiment,
        sentiment_score=-0.8 if sentiment == "negative" else 0.5, urgency=urgency,
        confidence={"language": 1.0, "category": 0.9, "sentiment": 0.9, "urgency": 0.9})


def make_config(**overrides) -> CasesConfig:
    data = {
        "default": {"first_response_hours": 8, "resolution_hours": 40},
        "categories": {"delivery": {"first_response_hours": 4, "resolution_hours": 24,
                                    "segments": {"Champions": {"first_response_hours": 2, "resolution_hours": 16}}}},
        "departments": {"fraud_security": "tech_support"},
    }
    data.update(overrides)
    return CasesConfig.model_validate(data)


def make_core(calendar: Calendar | None = OFFICE, **overrides) -> CaseCore:
    return CaseCore(make_config(**overrides), calendar, _POLICY.directory)
