"""Escalation: incidents and commands -> paged levels, deadlines and alerts; pure core beside the faust agent."""

from agents.escalation.auth import can_act, hash_token, verify_token
from agents.escalation.core import EscalationCore
from agents.escalation.machine import cascade, due, on_command, on_incident, on_storm
from agents.escalation.policy import Policy, load_policy
from agents.escalation.routing import CustomerContext, IncidentFields, Plan, plan
from agents.escalation.state import IncidentState, next_deadline
from agents.escalation.storm import StormWindow, Verdict, groups_of, observe

__all__ = [
    "CustomerContext", "EscalationCore", "IncidentFields", "IncidentState", "Plan", "Policy", "StormWindow", "Verdict",
    "can_act", "cascade", "due", "groups_of", "hash_token", "load_policy", "next_deadline", "observe",
    "on_command", "on_incident", "on_storm", "plan", "verify_token",
]
