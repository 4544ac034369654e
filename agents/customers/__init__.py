"""Customer profiles, RFM, churn, follow-ups and the feedback digest: the pure core behind the customers agent."""

from agents.customers.book import CustomerBook
from agents.customers.config import FollowUpConfig, FollowUpRules, ScoringParams, load_followup_config
from agents.customers.digest import ClassifiedFeedback, build_digest
from agents.customers.followup import evaluate_followups
from agents.customers.profile import (
    CustomerProfile, apply_feedback, apply_order, open_incident, resolve_incident,
)
from agents.customers.rfm import Rfm, RfmPopulation, segment
from agents.customers.snapshot import build_snapshot, profile_churn

__all__ = [
    "ClassifiedFeedback", "CustomerBook", "CustomerProfile", "FollowUpConfig", "FollowUpRules", "Rfm",
    "RfmPopulation", "ScoringParams", "apply_feedback", "apply_order", "build_digest", "build_snapshot",
    "evaluate_followups", "load_followup_config", "open_incident", "profile_churn", "resolve_incident", "segment",
]
