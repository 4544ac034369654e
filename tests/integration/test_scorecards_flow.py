"""Scorecards from a real stream: orders, funnel moves, feedback and an incident go through the broker and the
worker; GET /scorecards (scoped by token) and `salespulse scorecard show` read the same figures back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import httpx
import pytest
import yaml

from agents.escalation.auth import hash_token
from pipeline.emitter import Emitter
from schemas.events import FunnelStage, Severity
from tests.support.factories import make_feedback, make_funnel, make_incident, make_order
from tests.support.services import ROOT, query, wait_until

pytestmark = pytest.mark.integration


def directory_with_tokens(tmp, run_id: str) -> tuple[dict, dict[str, str]]:
    directory = yaml.safe_load((ROOT / "config" / "directory.yaml").read_text())
    tokens = {}
    for person in directory["people"]:
        tokens[person["id"]] = f"tok-{person['id']}-{run_id}"
        person["token_sha256"] = hash_token(tokens[person["id"]])
    (tmp / "directory.yaml").write_text(yaml.safe_dump(directory))
    return {"SALESPULSE_PATHS__DIRECTORY": tmp / "directory.yaml"}, tokens


def stream(run_id: str, now: datetime) -> list:
    """rep-1: three orders of two new customers, a funnel of four opportunities (one won), negative feedback from
    a customer; rep-2: one order; rep-3 (south): one order. All in this month (UTC)."""
    t = max(now - timedelta(hours=2), now.replace(day=1, hour=0, minute=0, second=0, microsecond=0))
    order = lambda i, cust, amount, rep, region="north": make_order(  # noqa: E731
        occurred_at=t, order_id=f"o-{run_id}-{i}", customer_id=f"{cust}-{run_id}", amount=Decimal(amount),
        currency="USD", sales_rep_id=rep, region=region, items=())
    events = [order(1, "a", "1000.00", "rep-1"), order(2, "a", "500.00", "rep-1"), order(3, "b", "1500.00", "rep-1"),
              order(4, "c", "800.00", "rep-2"), order(5, "d", "2000.00", "rep-3", "south")]
    for opp, reached in ((1, 5), (2, 3), (3, 2), (4, 1)):
        for s in [FunnelStage.lead, FunnelStage.qualified, FunnelStage.proposal, FunnelStage.negotiation,
                  FunnelStage.won][:reached]:
            events.append(make_funnel(occurred_at=t, opportunity_id=f"opp-{run_id}-{opp}", customer_id=f"a-{run_id}",
                                      stage=s, sales_rep_id="rep-1"))
    events.append(make_feedback(occurred_at=t + timedelta(minutes=1), customer_id=f"a-{run_id}",
                                text="Terrible service, the parcel arrived broken and nobody answers. Very disappointed."))
    return events


def test_scorecards_from_a_real_stream(broker, make_worker, db_url, run_id, tmp_path):
    env, tokens = directory_with_tokens(tmp_path, run_id)
    w = make_worker(**env)
    w.wait_ready()
    now = datetime.now(timezone.utc)
    period = f"{now.year}-{now.month:02d}"
    events = stream(run_id, now)
    with Emitter(broker.bootstrap, topic_prefix=f"t{run_id}.") as em:
        em.emit_many(events)
        em.flush()
    wait_until(lambda: query(db_url, "SELECT 1 FROM customer_profiles WHERE customer_id = :c", c=f"a-{run_id}")
               and query(db_url, "SELECT 1 FROM classified_feedback WHERE customer_id = :c", c=f"a-{run_id}"),
               timeout=60, message="profiles and feedback stored")
    key = f"inc-{run_id}"
    with Emitter(broker.bootstrap, topic_prefix=f"t{run_id}.") as em:
        em.emit(make_incident(event_id=uuid.uuid4(), occurred_at=datetime.now(timezone.utc), incident_key=key,
                              customer_id=f"a-{run_id}", severity=Severity.low, region="north"))
        em.flush()
    wait_until(lambda: query(db_url, "SELECT 1 FROM incidents WHERE incident_key = :k", k=key), timeout=30,
               message="incident stored")
    r = httpx.post(f"{w.base_url}/incidents/{key}/ack", headers={"Authorization": f"Bearer {tokens['rep-1']}"}, timeout=30)
    assert r.status_code == 202, r.text
    wait_until(lambda: query(db_url, "SELECT acked_by FROM incidents WHERE incident_key = :k", k=key) == [("rep-1",)],
               timeout=30, message="acknowledged")

    def get(who: str, **params):
        return httpx.get(f"{w.base_url}/scorecards", params={"period": period, **params},
                         headers={"Authorization": f"Bearer {tokens[who]}"}, timeout=30)

    def ready():
        r = get("lead-north")
        cards = {c["id"]: c for c in r.json()["scorecards"]} if r.status_code == 200 else {}
        f = cards.get("rep-1", {}).get("figures", {})
        return f.get("orders") == 3 and f.get("opportunities") == 4 and f.get("incidents_acked") == 1 and f
    f = wait_until(ready, timeout=60, interval=1.0, message="rep-1's scorecard complete")  # under 5 reads/s
    assert f["revenue"] == "3000.00" and f["average_order_value"] == "1000.00" and f["new_customers"] == 2
    assert f["conversion"] == 0.25 and f["win_rate"] == 1.0 and f["feedback"] == 1
    assert f["negative_feedback_share"] == 1.0 and f["ack_median_minutes"] is not None

    body = get("lead-north").json()
    assert [c["id"] for c in body["scorecards"]] == ["rep-1", "rep-2"] and body["teams"][0]["id"] == "team-north"
    assert body["teams"][0]["figures"]["revenue"] == "3800.00"
    assert [r["rep"] for r in body["leaderboard"]] == ["rep-1", "rep-2"]
    card = body["scorecards"][0]
    assert card["conversion_by_stage"]["lead"] == {"rate": 0.75, "team_median": 0.75, "vs_median": 0.0}
    # scope: a rep sees only themselves; another team is 403; a manager of the south sees rep-3 leading there
    assert [c["id"] for c in get("rep-2").json()["scorecards"]] == ["rep-2"]
    assert get("rep-2", rep="rep-1").status_code == 403
    assert get("lead-north", team="team-south").status_code == 403
    assert get("manager-south").json()["leaderboard"][0]["rep"] == "rep-3"
    assert httpx.get(f"{w.base_url}/scorecards").status_code == 401
    assert get("director", period="2026-13").status_code == 400

    cli = subprocess.run([sys.executable, "-m", "agents.cli.main", "scorecard", "show", "--rep", "rep-1",
                          "--period", period, "--json"], capture_output=True, text=True, cwd=ROOT, timeout=120,
                         env={**os.environ, "SALESPULSE_DATABASE__URL": db_url,
                              "SALESPULSE_PATHS__DIRECTORY": str(env["SALESPULSE_PATHS__DIRECTORY"])})
    assert cli.returncode == 0, cli.stderr
    shown = json.loads(cli.stdout)["scorecards"][0]
    assert shown["figures"] == f and shown["attainment"] == card["attainment"]

    # the card's incentive is the statement `salespulse incentives statement` prints from the same events
    (tmp_path / "events.jsonl").write_text("".join(e.model_dump_json() + "\n" for e in events))
    offline = subprocess.run([sys.executable, "-m", "agents.cli.main", "incentives", "statement", "--plan",
                              str(ROOT / "config" / "incentives.yaml"), "--events", str(tmp_path / "events.jsonl"),
                              "--rep", "rep-1", "--period", period, "--directory",
                              str(env["SALESPULSE_PATHS__DIRECTORY"])], capture_output=True, text=True, cwd=ROOT,
                             timeout=120)
    assert offline.returncode == 0, offline.stderr
    assert card["incentive"] == json.loads(offline.stdout) and card["incentive"]["revenue"] == "3000.00"
