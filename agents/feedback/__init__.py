"""Feedback classification: the pure core the feedback agent calls (text -> Classification -> incident)."""

from agents.feedback.classifier import Classifier, Correction
from agents.feedback.incidents import classified_event, incident_for
from schemas.feedback import Classification, Evidence

__all__ = ["Classification", "Classifier", "Correction", "Evidence", "classified_event", "incident_for"]
