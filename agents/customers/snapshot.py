"""CustomerProfile + RFM population + now -> CustomerProfileSnapshot (what is published and mirrored)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from agents.customers.churn import churn_risk
from agents.customers.codec import from_us, money, ratio_money
from agents.customers.config import ScoringParams
from agents.customers.profile import CustomerProfile
from agents.customers.rfm import Rfm, RfmPopulation
from schemas.customers import CustomerProfileSnapshot, RfmScore, UnconvertedSpend, stable_id
from schemas.events import SCHEMA_VERSION


def profile_churn(p: CustomerProfile, now: datetime, params: ScoringParams) -> float:
    return churn_risk(p.orders_count, p.mean_gap_days(), p.last_ts, p.recent_negative(now, params), now, params)


def build_snapshot(p: CustomerProfile, population: RfmPopulation | None, now: datetime, params: ScoringParams,
                   rfm: Rfm | None = None, currency: str | None = None) -> CustomerProfileSnapshot:
    """Pass `rfm` when already scored (the follow-up rules score first) to avoid scoring twice, and
    `population` None then (the read path scores against histograms). `currency`: the reporting
    currency the profile's amounts are in.

    Built with `model_construct`: every value is computed here from a profile whose inputs were
    validated as events, and validating the result again would be a quarter of the snapshot's cost.
    Guarded by a test that the snapshots of simulated customers validate to themselves
    (tests/unit/customers). The worker publishes `snapshot_wire`, the same bytes without the model."""
    if rfm is None and population is not None:
        rfm = population.score(p.rfm_key())
    by_cat, by_channel = p.spend_breakdown()
    favourite = min(by_cat, key=lambda c: (-by_cat[c], c)) if by_cat else None
    n = p.orders_count
    gap = p.mean_gap_days()
    sentiment = p.rolling_sentiment()
    return CustomerProfileSnapshot.model_construct(
        event_id=stable_id("profile", p.customer_id, now.isoformat()),
        occurred_at=now,
        customer_id=p.customer_id,
        orders_count=n,
        total_spend=money(p.net),
        refunds=money(p.refunds),
        average_order_value=ratio_money(p.net, n) if n else None,
        first_order_at=from_us(p.first_ts) if n else None,
        last_order_at=from_us(p.last_ts) if n else None,
        mean_days_between_orders=round(gap, 4) if gap is not None else None,
        spend_by_category={k: money(v) for k, v in sorted(by_cat.items())},
        spend_by_channel={k: money(v) for k, v in sorted(by_channel.items())},
        favourite_category=favourite,
        feedback_count=p.fb_count,
        negative_share=round(p.fb_neg / p.fb_count, 4) if p.fb_count else None,
        rolling_sentiment=round(max(-1.0, min(1.0, sentiment)), 4) if sentiment is not None else None,
        complaints_by_category=dict(sorted((p.complaints or {}).items())),
        open_incidents=p.open_incidents(),
        rfm=RfmScore.model_construct(r=rfm.r, f=rfm.f, m=rfm.m, segment=rfm.segment) if rfm else None,
        churn_risk=round(profile_churn(p, now, params), 4),
        owner_rep_id=p.rep,
        region=p.region,
        currency=currency,
        unconverted={cur: UnconvertedSpend.model_construct(orders=n, total_spend=money(net), refunds=money(refunds))
                     for cur, (n, net, refunds) in p.unconverted().items()},
    )


class Wire(NamedTuple):
    """A profile as published, made without the model (`snapshot_wire`), and what the profile row and
    the follow-up rules read of it."""

    json: dict                 # build_snapshot(...).model_dump(mode="json")
    rfm: Rfm | None
    churn_risk: float
    total_spend: Decimal
    refunds: Decimal
    average_order_value: Decimal | None
    first_order_at: datetime | None
    last_order_at: datetime | None


def _instant(d: datetime) -> str:
    """A datetime as pydantic writes it in JSON: ISO 8601, fraction only when there is one, UTC as Z."""
    s = d.isoformat()
    return s[:-6] + "Z" if s.endswith("+00:00") else s


def snapshot_wire(p: CustomerProfile, population: RfmPopulation | None, now: datetime, params: ScoringParams,
                  currency: str | None = None) -> Wire:
    """`build_snapshot(...)` in its JSON form, built as a dict: what the worker publishes (`orjson.dumps`)
    and mirrors to SQL for every changed customer at every flush. The model's construction, its
    `model_dump_json` and the JSON parsed back for the row cost ~40% of a snapshot on the worker's loop;
    the bytes are the model's, field for field (tests/unit/customers/test_snapshot_construct.py)."""
    rfm = population.score(p.rfm_key()) if population is not None else None
    by_cat, by_channel = p.spend_breakdown()
    n = p.orders_count
    gap = p.mean_gap_days()
    sentiment = p.rolling_sentiment()
    churn = round(profile_churn(p, now, params), 4)
    total, refunds = money(p.net), money(p.refunds)
    aov = ratio_money(p.net, n) if n else None
    first, last = (from_us(p.first_ts), from_us(p.last_ts)) if n else (None, None)
    return Wire({
        "event_id": str(stable_id("profile", p.customer_id, now.isoformat())),
        "schema_version": SCHEMA_VERSION,
        "occurred_at": _instant(now),
        "event_type": "customer_profile",
        "customer_id": p.customer_id,
        "orders_count": n,
        "total_spend": str(total),
        "refunds": str(refunds),
        "average_order_value": str(aov) if aov is not None else None,
        "first_order_at": _instant(first) if first is not None else None,
        "last_order_at": _instant(last) if last is not None else None,
        "mean_days_between_orders": round(gap, 4) if gap is not None else None,
        "spend_by_category": {k: str(money(v)) for k, v in sorted(by_cat.items())},
        "spend_by_channel": {k: str(money(v)) for k, v in sorted(by_channel.items())},
        "favourite_category": min(by_cat, key=lambda c: (-by_cat[c], c)) if by_cat else None,
        "feedback_count": p.fb_count,
        "negative_share": round(p.fb_neg / p.fb_count, 4) if p.fb_count else None,
        "rolling_sentiment": round(max(-1.0, min(1.0, sentiment)), 4) if sentiment is not None else None,
        "complaints_by_category": dict(sorted((p.complaints or {}).items())),
        "open_incidents": p.open_incidents(),
        "rfm": {"r": rfm.r, "f": rfm.f, "m": rfm.m, "segment": rfm.segment} if rfm else None,
        "churn_risk": churn,
        "owner_rep_id": p.rep,
        "region": p.region,
        "currency": currency,
        "unconverted": {cur: {"orders": k, "total_spend": str(money(net)), "refunds": str(money(ref))}
                        for cur, (k, net, ref) in p.unconverted().items()},
    }, rfm, churn, total, refunds, aov, first, last)
