"""incident_for / classified_event: urgent feedback becomes a deterministic, mergeable incident."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest

from agents.feedback import Classifier, classified_event, incident_for
from schemas.events import Channel, FeedbackEvent, IncidentEvent, Severity
from schemas.feedback import ClassifiedFeedback

NOW = datetime(2025, 3, 1, 9, 30, tzinfo=timezone.utc)


def make_feedback(**overrides) -> FeedbackEvent:
    fields = dict(event_id=uuid.UUID("00000000-0000-4000-8000-000000000001"), occurred_at=NOW,
                  channel=Channel.web, customer_id="cust-42", text="The charger caught fire last night!")
    fields.update(overrides)
    return FeedbackEvent(**fields)


@pytest.fixture(scope="module")
def clf() -> Classifier:
    return Classifier.default()


def test_critical_always_raises(clf):
    event = make_feedback()
    result = clf.classify(event.text)
    for raise_high in (False, True):
        inc = incident_for(event, result, raise_high=raise_high)
        assert isinstance(inc, IncidentEvent) and inc.severity is Severity.critical
    assert inc.category == "product_safety" and inc.customer_id == "cust-42" and inc.channel is Channel.web
    assert inc.title.startswith("The charger caught fire")
    assert "critical.safety" in (inc.description or "")


def test_high_only_when_configured(clf):
    event = make_feedback(text="Cancel my order and refund me immediately, this is unacceptable.")
    result = clf.classify(event.text)
    assert result.urgency == "high"
    assert incident_for(event, result, raise_high=False) is None
    assert incident_for(event, result, raise_high=True).severity is Severity.high


@pytest.mark.parametrize("text", ["Fast delivery, thanks!", "The parcel is a bit late."])
def test_normal_and_low_never_raise(clf, text):
    event = make_feedback(text=text)
    assert incident_for(event, clf.classify(text), raise_high=True) is None


def test_redelivery_is_idempotent_and_complaints_merge(clf):
    a = make_feedback()
    again = incident_for(a, clf.classify(a.text), raise_high=True)
    assert incident_for(a, clf.classify(a.text), raise_high=True) == again  # same event -> same incident event
    b = make_feedback(event_id=uuid.uuid4(), text="Smoke and a burning smell from the same charger again!")
    other = incident_for(b, clf.classify(b.text), raise_high=True)
    assert other.event_id != again.event_id
    assert other.incident_key == again.incident_key  # same customer, same category: one incident
    c = make_feedback(event_id=uuid.uuid4(), customer_id="cust-7")
    assert incident_for(c, clf.classify(c.text), raise_high=True).incident_key != again.incident_key


def test_long_text_gives_a_bounded_title(clf):
    text = "The heater caught fire. " + "It was terrible. " * 100
    inc = incident_for(make_feedback(text=text), clf.classify(text), raise_high=False)
    assert len(inc.title) <= 120 and inc.title.endswith("…")


def test_classified_event_keeps_the_source_id(clf):
    event = make_feedback(rating=1, order_id="o-1")
    result = clf.classify(event.text, rating=event.rating)
    out = classified_event(event, result, classified_at=NOW)
    assert isinstance(out, ClassifiedFeedback)
    assert out.event_id == event.event_id and out.event_type == "classified_feedback" and out.schema_version == 1
    assert out.urgency == "critical" and out.order_id == "o-1" and out.evidence == result.evidence
    assert ClassifiedFeedback.model_validate_json(out.model_dump_json()) == out
