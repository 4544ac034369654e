"""FeedbackEvent + now -> Outcome (the classification, the feedback.classified record, the incident or None).

The one core of the feedback capability: the worker drives it (inline, or in the classifier's
process, agents/feedback/pool.py) and so does `salespulse classify`, so the command shows the
incident the worker would raise. Reviewers' corrections enter through `correct`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from agents.feedback.classifier import Classifier, Correction
from agents.feedback.incidents import classified_event, incident_for
from schemas.events import FeedbackEvent, IncidentEvent
from schemas.feedback import Classification, ClassifiedFeedback


@dataclass(frozen=True, slots=True)
class Outcome:
    """One feedback message processed: what the classifier said, the record to publish, the incident."""

    result: Classification
    classified: ClassifiedFeedback
    incident: IncidentEvent | None


class FeedbackCore:
    """Pure: no clock, no network, no SQL. `raise_high` is the worker setting
    `raise_high_feedback` (critical feedback always raises an incident, high only with it)."""

    __slots__ = ("classifier", "raise_high")

    def __init__(self, classifier: Classifier, *, raise_high: bool) -> None:
        self.classifier = classifier
        self.raise_high = raise_high

    def process(self, event: FeedbackEvent, now: datetime) -> Outcome:
        """Classify the message as of `now` (the record's classified_at) and decide its incident."""
        result = self.classifier.classify(event.text, language=event.language, rating=event.rating,
                                          channel=event.channel.value)
        return Outcome(result, classified_event(event, result, classified_at=now),
                       incident_for(event, result, raise_high=self.raise_high))

    def correct(self, text: str, *, category: str | None = None, sentiment: str | None = None,
                urgency: str | None = None) -> Correction:
        """A reviewer's correction: the same text (and, nudged, similar ones) is classified so from now on."""
        return self.classifier.apply_correction(text, category=category, sentiment=sentiment, urgency=urgency)
