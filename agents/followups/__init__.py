"""Follow-up lifecycle: states and transitions, assignment, sweeps (snooze, overdue), batched owner notices."""

from agents.followups.core import ACTIONS, STATES, Assignment, Change, Refused, assign, transition

__all__ = ["ACTIONS", "STATES", "Assignment", "Change", "Refused", "assign", "transition"]
