"""Profile + its fresh RFM score and churn risk + now -> FollowUpTasks, remembering in the profile what was raised."""

from __future__ import annotations

from datetime import datetime, timedelta

from agents.customers.codec import EPOCH, US_PER_DAY, money, to_us
from agents.customers.config import SEGMENTS, FollowUpRules
from agents.customers.profile import CustomerProfile
from agents.customers.rfm import Rfm
from schemas.customers import FollowUpReason, FollowUpTask, stable_id

SEGMENT_REASON = {"At risk": FollowUpReason.entered_at_risk, "Can't lose": FollowUpReason.entered_cant_lose}


def is_valuable(rfm: Rfm | None, rules: FollowUpRules) -> bool:
    return rfm is not None and (rfm.segment in rules.valuable.segments or rfm.m >= rules.valuable.min_monetary_score)


def silent(p: CustomerProfile, rfm: Rfm | None, now: datetime, rules: FollowUpRules, silent_factor: float,
           min_gap_days: float) -> bool:
    """A valuable customer with a rhythm (2+ orders) whose time since the last order exceeds their own mean gap
    (x silent_factor), not yet raised for this last order."""
    gap = p.mean_gap_days()
    if gap is None or p.fu_silent == p.last_ts or not is_valuable(rfm, rules):
        return False
    return (to_us(now) - p.last_ts) / US_PER_DAY > max(gap, min_gap_days) * silent_factor


def evaluate_followups(p: CustomerProfile, rfm: Rfm | None, churn: float, now: datetime, rules: FollowUpRules,
                       negative_feedback: bool = False, silent_factor: float = 1.0,
                       min_gap_days: float = 1.0, sweep: bool = False) -> list[FollowUpTask]:
    """Call after every profile update (negative_feedback=True when that update was a negative feedback)
    and on periodic sweeps (agents/customers/agent.py `Customers.sweep`, as time alone moves churn risk and
    silence; `sweep=True`: only there are churn risk and silence judged, as an event-driven evaluation mostly
    sees a profile whose latest orders are still on their way); persists the profile's fu_* fields together with the other
    changes."""
    seg = SEGMENTS.index(rfm.segment) if rfm else -1
    due: list[FollowUpReason] = []
    if rfm and rfm.segment in rules.watch_segments and seg != p.fu_seg:
        due.append(SEGMENT_REASON[rfm.segment])
    if sweep:
        # churn risk, like silence, is judged by sweeps only: it moves with time, and an evaluation driven by
        # an event often sees a profile whose latest orders are still on their way (two orders of a daily
        # buyer, three days old, read at the wall clock, look like a customer lost)
        above = churn >= rules.churn_threshold
        if above and not p.fu_churn:
            due.append(FollowUpReason.churn_risk)
        p.fu_churn = above
    if negative_feedback and is_valuable(rfm, rules):
        due.append(FollowUpReason.negative_feedback)
    p.fu_seg = seg
    if sweep and silent(p, rfm, now, rules, silent_factor, min_gap_days):
        # once per silence (fu_silent names its last order) and, like every reason, once per quiet period: a
        # silence seen on a profile whose latest orders were still on their way is not raised again when they
        # arrive and the customer falls silent for real; a sweep repeated after a crash raises the same id
        due.append(FollowUpReason.silent_valuable)

    quiet = int(rules.quiet_period_days * 86_400)
    now_s = int((now - EPOCH).total_seconds())
    tasks = []
    for reason in due:
        last = (p.fu_last or {}).get(reason.value)
        if last is not None and now_s - last < quiet:
            continue
        if p.fu_last is None:
            p.fu_last = {}
        p.fu_last[reason.value] = now_s
        if reason is FollowUpReason.silent_valuable:
            p.fu_silent = p.last_ts
        window_start = EPOCH + timedelta(seconds=now_s - now_s % quiet)
        scores = f"r={rfm.r} f={rfm.f} m={rfm.m}, " if rfm else ""
        tasks.append(FollowUpTask(
            event_id=stable_id("followup", p.customer_id, reason.value, window_start.isoformat()),
            occurred_at=now, customer_id=p.customer_id, reason=reason, owner_rep_id=p.rep,
            segment=rfm.segment if rfm else None, churn_risk=round(churn, 4), total_spend=money(p.net),
            window_start=window_start, due_at=now + timedelta(hours=rules.due_in_hours),
            detail=f"{reason.value}: {rfm.segment if rfm else 'no orders'} ({scores}churn risk {churn:.2f}, "
                   f"net spend {money(p.net)})",
            region=p.region,
        ))
    return tasks
