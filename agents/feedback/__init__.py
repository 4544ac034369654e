"""Feedback classification: the pure core the feedback agent and `salespulse classify` drive (event -> incident)."""

from agents.feedback.classifier import Classifier, Correction
from agents.feedback.core import FeedbackCore, Outcome
from agents.feedback.incidents import classified_event, incident_for
from schemas.feedback import Classification, Evidence

__all__ = ["Classification", "Classifier", "Correction", "Evidence", "FeedbackCore", "Outcome", "classified_event",
           "incident_for"]
