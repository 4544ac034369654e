"""Signal incidents in the escalation chain: storm groups they join, the worker's KPI adapter."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from agents.escalation.policy import load_policy
from agents.escalation.storm import groups_of
from agents.signals import Firing, SignalsConfig, SignalsCore, SnapshotFigures, incident
from schemas.customers import KpiSnapshot, TargetRow
from schemas.events import Channel, Severity

NOW = datetime(2026, 3, 15, 12, tzinfo=timezone.utc)


def firing(subject: str, **kw) -> Firing:
    kind = kw.pop("kind", "complaint_rate")
    return Firing(kind=kind, subject=subject, at=NOW, window_start=NOW.replace(minute=0), severity=Severity.high,
                  title="t", **kw)


def test_signal_incidents_storm_on_their_sku_and_region_only():
    storm = load_policy().config.storm
    sku = incident(firing("sku:SKU-K", sku="SKU-K", region="north"), Channel.web)
    assert groups_of(sku, storm) == ["sku=SKU-K", "region=north"]
    assert groups_of(incident(firing("category:kitchen", region="north"), Channel.web), storm) == ["region=north"]
    # pace and campaign incidents concern a team or the company: they storm with nothing
    pace = incident(firing("team:north", kind="target_pace", team="north"), Channel.web, "team-north")
    assert groups_of(pace, storm) == [] and pace.team == "team-north" and pace.channel == Channel.web


def test_the_event_id_repeats_for_the_same_view_and_differs_for_another():
    a = incident(firing("sku:SKU-K", evidence={"count": 9}), Channel.web)
    assert a.event_id == incident(firing("sku:SKU-K", evidence={"count": 9}), Channel.web).event_id
    b = incident(firing("sku:SKU-K", evidence={"count": 11}), Channel.web)
    assert b.event_id != a.event_id and b.incident_key == a.incident_key == "signal:complaint_rate:sku:SKU-K@20260315T1200Z"


async def test_the_worker_adapter_reads_the_month_through_one_callable():
    asked = []

    async def month_snapshot(now):
        asked.append(now)
        return KpiSnapshot(occurred_at=now, granularity="month", bucket_start=now.replace(day=1, hour=0), targets=(
            TargetRow(kind="team", id="north", team="north", target=Decimal(1000), actual=Decimal(100), elapsed=0.5,
                      expected_to_date=Decimal(500), pace=0.2, on_track=False),))

    figures = SnapshotFigures(month_snapshot)
    core = SignalsCore(SignalsConfig())
    fired = core.kpis(await figures.month(NOW), NOW)
    assert asked == [NOW] and [f.subject for f in fired] == ["team:north"]
    assert core.kpis(None, NOW + timedelta(minutes=5)) == []   # figures unavailable: nothing, no error
