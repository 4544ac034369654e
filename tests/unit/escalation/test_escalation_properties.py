"""Property tests of the state machine: any sequence of incidents, commands, clock steps and restarts."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from agents.escalation.machine import due, on_command, on_incident
from agents.escalation.policy import DEFAULT_DIRECTORY, DEFAULT_POLICY, build_policy, read_yaml
from agents.escalation.routing import CustomerContext
from agents.escalation.state import IncidentState, next_deadline
from schemas.events import Severity
from tests.unit.escalation.factories import T0, command, incident

KEYS = ("a", "b", "c")
SEGMENTS = (None, "Champions", "Can't lose", "At risk")


def _policy(calendars: bool):
    pol, dire = read_yaml(DEFAULT_POLICY, "policy"), read_yaml(DEFAULT_DIRECTORY, "directory")
    pol.pop("storm")      # storms hold children back on purpose: tested on their own
    if not calendars:
        for lv in pol["levels"]:
            lv.pop("calendar", None)
    return build_policy(pol, dire)


POLICIES = {True: _policy(True), False: _policy(False)}
LAST = len(POLICIES[True].levels)


class Escalations(RuleBasedStateMachine):
    """Drives the pure functions the way a worker does: events, commands, sweeps at arbitrary times."""

    @initialize(calendars=st.booleans())
    def setup(self, calendars):
        self.policy = POLICIES[calendars]
        self.now = T0
        self.states: dict[str, IncidentState] = {}
        self.sent: dict = {}                     # notification_id -> alert
        self.acked_epoch: dict[str, int] = {}    # key -> epoch in which it was acked or resolved

    def _emit(self, key, result):
        state, alerts = result
        self.states[key] = state
        for a in alerts:
            assert a.notification_id not in self.sent, f"paged twice: {a.incident_key} level {a.level} loop {a.loop}"
            assert self.acked_epoch.get(a.incident_key) != a.epoch, "an acknowledged incident was paged again"
            self.sent[a.notification_id] = a

    @rule(key=st.sampled_from(KEYS), severity=st.sampled_from(list(Severity)), segment=st.sampled_from(SEGMENTS))
    def incident_arrives(self, key, severity, segment):
        ctx = CustomerContext(segment=segment) if segment else None
        ev = incident(key, severity=severity, occurred_at=self.now)
        self._emit(key, on_incident(self.states.get(key), ev, self.policy, ctx, self.now))

    @precondition(lambda self: self.states)
    @rule(data=st.data(), kind=st.sampled_from(["ack", "resolve", "ack", "resolve"]))
    def person_acts(self, data, kind):
        key = data.draw(st.sampled_from(sorted(self.states)))
        s = self.states[key]
        cmd = command(kind, key, occurred_at=self.now)
        new, alerts = on_command(s, cmd, self.policy, self.now)
        if s.status in ("triggered", "merged") or (kind == "resolve" and s.status != "resolved"):
            self.acked_epoch[key] = new.epoch
        self._emit(key, (new, alerts))

    @rule(minutes=st.one_of(st.integers(0, 20), st.integers(20, 600), st.integers(600, 5000)))
    def clock_moves_and_the_sweeper_runs(self, minutes):
        self.now += timedelta(minutes=minutes)
        for key, s in list(self.states.items()):
            self._emit(key, due(s, self.policy, self.now))

    @rule()
    def worker_restarts(self):
        """State goes through JSON (faust table, SQL) and comes back; nothing is lost or repeated."""
        self.states = {k: IncidentState.from_dict(json.loads(json.dumps(s.to_dict()))) for k, s in self.states.items()}

    @invariant()
    def deadlines_only_while_triggered(self):
        for s in self.states.values():
            assert (next_deadline(s) is not None) <= (s.status == "triggered")
            if s.deadline is not None:
                assert s.deadline >= s.last_seen - timedelta(days=1)

    def teardown(self):
        if not hasattr(self, "states"):
            return
        # run the clock until nothing is pending: every unacknowledged incident reaches the last level
        for _ in range(1000):
            pending = [d for d in map(next_deadline, self.states.values()) if d is not None]
            if not pending:
                break
            self.now = max(self.now, min(pending))
            for key, s in list(self.states.items()):
                self._emit(key, due(s, self.policy, self.now))
        for key, s in self.states.items():
            if s.status == "triggered":
                last = [a for a in self.sent.values()
                        if a.incident_key == key and a.epoch == s.epoch and a.kind == "page" and a.level == LAST]
                assert last, f"{key} (epoch {s.epoch}) never reached level {LAST}"
                assert {a.loop for a in last} == set(range(s.plan.repeat + 1))


Escalations.TestCase.settings = settings(max_examples=150, stateful_step_count=30, deadline=None,
                                         suppress_health_check=[HealthCheck.too_slow])
test_escalation_state_machine = Escalations.TestCase


@pytest.mark.parametrize("calendars", [False, True])
def test_an_unacked_incident_pages_each_level_once_per_loop(calendars):
    policy = POLICIES[calendars]
    s, alerts = on_incident(None, incident(severity=Severity.low), policy, None, T0)
    s, more = due(s, policy, T0 + timedelta(days=30))
    pages = [(a.loop, a.level) for a in alerts + more if a.kind == "page"]
    assert pages == [(loop, lv) for loop in (0, 1) for lv in (1, 2, 3, 4)]
