"""Properties of the case core over generated feedback streams, actions and a forward clock (hypothesis)."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from agents.cases.core import OPEN
from tests.unit.cases.factories import MON_10, OFFICE, make_cf, make_core

CUSTOMERS = st.sampled_from(["c-1", "c-2", "c-3"])
CATEGORIES = st.sampled_from(["delivery", "pricing", "service"])
STEP = st.one_of(
    st.tuples(st.just("feedback"), CUSTOMERS, CATEGORIES, st.sampled_from(["negative", "neutral"]),
              st.integers(0, 12 * 60)),
    st.tuples(st.just("act"), CUSTOMERS, CATEGORIES, st.sampled_from(["respond", "resolve"]),
              st.integers(0, 12 * 60)),
    st.tuples(st.just("clock"), st.just(""), st.just(""), st.just(""), st.integers(0, 7 * 24 * 60)),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(STEP, max_size=40), st.booleans())
def test_cases_merge_count_and_breach_once(steps, office):
    core = make_core(calendar=OFFICE if office else None)
    seen: dict[str, object] = {}
    negatives = 0
    raised: list[tuple[str, str]] = []
    now = MON_10
    for kind, cust, cat, what, minutes in steps:
        now += timedelta(minutes=minutes)  # the clock only moves forward
        if kind == "feedback":
            change = core.on_classified(make_cf(cust, cat, sentiment=what, at=now), None, 0, None, now)
            negatives += what == "negative"
            assert (change is None) == (what != "negative")
            if change is not None:
                seen[change.case.case_id] = change.case
        elif kind == "act":
            case = core.open.get((cust, cat))
            if case is not None:
                before = case.state
                assert core.act(case, what, now) == (before == "open" or what == "resolve")
        else:
            for b in core.due(now):
                assert b.due <= now
                core.mark_breached(b, now)
                raised.append((b.case.case_id, b.which))
        # one unresolved case per (customer, category), and every held case is unresolved
        assert all(c.state in OPEN and (c.customer_id, c.category) == k for k, c in core.open.items())
    cases = list(seen.values())
    assert sum(c.feedback_count for c in cases) == negatives
    assert len(raised) == len(set(raised))  # each SLA of a case breaches at most once
    for c in cases:
        assert c.opened_at <= c.first_response_due <= c.resolution_due
        if office:
            assert OFFICE.is_open(c.first_response_due - timedelta(seconds=1))
        if (c.case_id, "first_response") in raised:
            assert c.responded_at is None or c.responded_at > c.first_response_due
