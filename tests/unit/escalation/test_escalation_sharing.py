"""Cached plans share their people, steps and playbooks: thousands of cached plans must not each
hold copies (every pydantic instance is objects the garbage collector walks on each full pass)."""

from __future__ import annotations

from decimal import Decimal

from agents.escalation.routing import CustomerContext, IncidentFields, _route, plan
from schemas.events import Severity


def _all_targets(p):
    return [t for s in p.steps + p.inform for t in s.targets]


def test_plans_for_different_customers_share_targets_steps_and_playbook(shipped_policy):
    f = IncidentFields(severity=Severity.critical, category="delivery", region="north")
    a = plan(f, CustomerContext(value=Decimal("10.00")), shipped_policy)
    b = plan(f, CustomerContext(value=Decimal("20.00")), shipped_policy)
    assert a is not b  # two cache entries (the context differs) ...
    assert a == b      # ... with the same route
    assert all(x is y for x, y in zip(a.steps, b.steps))
    assert all(x is y for x, y in zip(_all_targets(a), _all_targets(b)))
    assert a.playbook is not None and a.playbook is b.playbook


def test_sharing_changes_no_plan(shipped_policy, make_policy):
    """The shared plan equals one routed by a policy that has shared nothing yet."""
    fresh = make_policy()
    for sev in Severity:
        for ctx in (None, CustomerContext(segment="Champions", owner_rep_id="rep-3", region="south")):
            f = IncidentFields(severity=sev, category="pricing", region="east")
            plan(f, ctx, shipped_policy)
            assert plan(f, ctx, shipped_policy) == _route(f, ctx, make_policy(), None) == plan(f, ctx, fresh)


def test_shared_values_are_bounded(shipped_policy, make_policy):
    policy = make_policy()
    f = IncidentFields(severity=Severity.high)
    for i in range(5000):
        policy.intern(("x", i))
    assert len(policy.shared) <= 4096
    # a cleared table still routes: targets and steps are made again
    p = plan(f, CustomerContext(owner_rep_id="rep-1"), policy)
    assert p == _route(f, CustomerContext(owner_rep_id="rep-1"), shipped_policy, None)
