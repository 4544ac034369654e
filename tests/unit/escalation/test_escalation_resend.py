"""Re-sending after a take-over: the alerts of the current level, with the ids they were first sent under."""

from __future__ import annotations

from agents.escalation.machine import current_alerts, due, on_command, on_incident
from schemas.events import Severity
from tests.unit.escalation.factories import at, command, incident


def test_current_alerts_repeat_the_ids_of_the_pages_sent(policy_24x7):
    pol = policy_24x7
    s, sent = on_incident(None, incident(severity=Severity.critical), pol, None, at(0))
    again = current_alerts(s, pol)
    assert sent and [a.notification_id for a in again] == [a.notification_id for a in sent]
    s2, escalated = due(s, pol, at(31))   # just past the team lead's 30 minutes
    assert escalated
    assert [a.notification_id for a in current_alerts(s2, pol)] == [escalated[-1].notification_id]


def test_nothing_to_resend_once_acknowledged(policy_24x7):
    s, _ = on_incident(None, incident(), policy_24x7, None, at(0))
    acked, _ = on_command(s, command("ack", minutes=1), policy_24x7, at(1))
    assert current_alerts(acked, policy_24x7) == []
