"""Follow-ups on a real broker and database: a silent Champions customer gets exactly one follow-up at the sweep
after crossing their own gap; its owner gets one batched email; overdue, it raises one low-severity incident to the
team lead; the API answers 404 / 403 / 409 as the lifecycle says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import httpx
import pytest
import yaml

from agents.escalation.auth import hash_token
from pipeline.emitter import Emitter
from schemas.events import Severity
from tests.support.factories import make_incident, make_order
from tests.support.receivers import SmtpReceiver
from tests.support.services import ROOT, query, wait_until

pytestmark = pytest.mark.integration

SWEEP_S = 1
SILENCE_AFTER_S = 45      # from the emission to the crossing of the customer's own gap: the worker is up by then
DUE_S = 12                # silent_valuable due time in this test's config


def setup_config(tmp, run_id: str) -> tuple[dict, dict[str, str]]:
    directory = yaml.safe_load((ROOT / "config" / "directory.yaml").read_text())
    tokens = {}
    for person in directory["people"]:
        tokens[person["id"]] = f"tok-{person['id']}-{run_id}"
        person["token_sha256"] = hash_token(tokens[person["id"]])
        if person["id"] == "rep-1":
            person.update(notify=["email"], notify_every_minutes=0.05)
    (tmp / "directory.yaml").write_text(yaml.safe_dump(directory))
    cfg = yaml.safe_load((ROOT / "config" / "followup.yaml").read_text())
    cfg["lifecycle"].update(sweep_interval_s=SWEEP_S, due_hours={"silent_valuable": DUE_S / 3600})
    (tmp / "followup.yaml").write_text(yaml.safe_dump(cfg))
    return {"SALESPULSE_PATHS__DIRECTORY": tmp / "directory.yaml", "SALESPULSE_PATHS__FOLLOWUP": tmp / "followup.yaml"}, tokens


def silent_champion_events(now: datetime) -> list:
    """One customer ordering daily (rep-1, north) whose next order would be due SILENCE_AFTER_S from now; four
    small one-order customers beside, so the daily buyer is a Champion."""
    last = now - timedelta(days=1) + timedelta(seconds=SILENCE_AFTER_S)
    events = [make_order(customer_id="champ", order_id=f"champ-{i}", occurred_at=last - timedelta(days=4 - i),
                         amount=Decimal("500.00")) for i in range(5)]
    events += [make_order(customer_id=f"small-{i}", order_id=f"small-{i}", occurred_at=now - timedelta(days=30),
                          amount=Decimal("10.00"), items=(), sales_rep_id=None, region="east") for i in range(4)]
    return events


def rows(db_url) -> list[tuple]:
    return query(db_url, "SELECT event_id, reason, assignee, state, escalated_at, notified_at FROM followups "
                         "WHERE customer_id = 'champ'")


def test_silent_champion_raises_once_notifies_and_escalates_once(broker, make_worker, db_url, run_id, tmp_path):
    env, tokens = setup_config(tmp_path, run_id)
    with SmtpReceiver() as smtp:
        w = make_worker(SALESPULSE_NOTIFY__SMTP_HOST="127.0.0.1", SALESPULSE_NOTIFY__SMTP_PORT=smtp.port, **env)
        w.wait_ready()
        now = datetime.now(timezone.utc)
        events = silent_champion_events(now)
        with Emitter(broker.bootstrap, topic_prefix=f"t{run_id}.") as em:
            for e in events:
                em.emit(e)
        crossing = now + timedelta(seconds=SILENCE_AFTER_S)
        wait_until(lambda: query(db_url, "SELECT orders_count FROM customer_profiles WHERE customer_id = 'champ'")
                   == [(5,)], timeout=40, message="the champion's profile stored")
        assert datetime.now(timezone.utc) < crossing, "the worker took too long to be tested before the crossing"
        time.sleep(3 * SWEEP_S)
        assert rows(db_url) == [], "nothing while the customer is within their own rhythm"

        wait_until(lambda: rows(db_url), timeout=SILENCE_AFTER_S + 30, interval=0.5, message="a follow-up raised")
        raised_at = datetime.now(timezone.utc)
        assert raised_at >= crossing, "not before the crossing"
        [(fid, reason, assignee, state, _, _)] = rows(db_url)
        assert (reason, assignee, state) == ("silent_valuable", "rep-1", "open")

        # the offline replay (same core, virtual clock swept every minute) raises the same follow-up within a sweep
        path = tmp_path / "events.jsonl"
        path.write_text("".join(e.model_dump_json() + "\n" for e in events))
        replay = subprocess.run([sys.executable, "-m", "agents.cli.main", "followups", "replay", str(path), "--now",
                                 (raised_at + timedelta(seconds=60)).isoformat(), "--sweep-every", "60", "--config", str(env["SALESPULSE_PATHS__FOLLOWUP"])],
                                capture_output=True, text=True, timeout=120,
                                env={**os.environ, "SALESPULSE_PATHS__DIRECTORY": str(env["SALESPULSE_PATHS__DIRECTORY"])})
        assert replay.returncode == 0, replay.stderr
        replayed = [json.loads(x) for x in replay.stdout.splitlines()]
        assert [(x["customer_id"], x["reason"], x["owner"], x["event"]) for x in replayed if x["event"] == "raised"] == \
            [("champ", "silent_valuable", "rep-1", "raised")]

        # the owner is told once, batched
        wait_until(lambda: [m for m in smtp.messages if "rep-1@salespulse.example" in m["to"]], timeout=30,
                   message="rep-1's notice email")
        notice = [m for m in smtp.messages if "rep-1@salespulse.example" in m["to"]]
        assert len(notice) == 1 and notice[0]["subject"] == "1 new follow-up for Rep 1 (North)"

        # overdue: one incident to the team lead, once
        key = f"followup-overdue:{fid}"
        wait_until(lambda: query(db_url, "SELECT status FROM incidents WHERE incident_key = :k", k=key), timeout=60,
                   message="the overdue follow-up's incident")
        time.sleep(4 * SWEEP_S)
        [(severity, category, level_name, count, region)] = query(
            db_url, "SELECT severity, category, level_name, count, region FROM incidents WHERE incident_key = :k", k=key)
        assert (severity, category, level_name, count, region) == ("low", "followup_overdue", "team_lead", 1, "north")
        [(_, _, _, _, escalated_at, notified_at)] = rows(db_url)
        assert escalated_at is not None and notified_at is not None
        assert len([m for m in smtp.messages if "rep-1@salespulse.example" in m["to"]]) == 1, "no second notice"
        wait_until(lambda: any("lead-north@salespulse.example" in m["to"] and "Follow-up overdue" in m["subject"]
                               for m in smtp.messages), timeout=30, message="the team lead paged by email")

        base = w.base_url

        def h(pid):
            return {"Authorization": f"Bearer {tokens[pid]}"}

        as_director = h("director")
        listed = httpx.get(f"{base}/incidents?state=open", headers=as_director).json()["incidents"]
        assert [i["incident_key"] for i in listed if i["category"] == "followup_overdue"] == [key]

        # the API: list in scope, then the lifecycle's answers
        assert httpx.get(f"{base}/followups").status_code == 401
        mine = httpx.get(f"{base}/followups?mine=1", headers=h("rep-1")).json()["followups"]
        assert [f["id"] for f in mine] == [fid]
        assert set(mine[0]) == {"id", "customer_id", "reason", "assignee", "region", "team", "due_at", "state",
                                "snoozed_until", "dismiss_reason", "detail", "created_at", "updated_at"}
        assert httpx.get(f"{base}/followups", headers=h("rep-3")).json()["followups"] == []
        assert httpx.get(f"{base}/followups?state=bogus", headers=h("rep-1")).status_code == 400
        assert httpx.post(f"{base}/followups/{fid}/start", headers=h("rep-3")).status_code == 403
        assert httpx.post(f"{base}/followups/nope/start", headers=h("rep-1")).status_code == 404
        r = httpx.post(f"{base}/followups/{fid}/start", headers=h("rep-1"))
        assert r.status_code == 200 and r.json()["state"] == "in_progress"
        r = httpx.post(f"{base}/followups/{fid}/start", headers=h("rep-1"))
        assert r.status_code == 409 and r.json()["state"] == "in_progress"
        r = httpx.post(f"{base}/followups/{fid}/snooze", json={"until": "yesterday"}, headers=h("lead-north"))
        assert r.status_code == 400
        until = (datetime.now(timezone.utc) + timedelta(seconds=3)).isoformat()
        r = httpx.post(f"{base}/followups/{fid}/snooze", json={"until": until}, headers=h("lead-north"))
        assert r.status_code == 200 and r.json()["state"] == "snoozed"
        wait_until(lambda: rows(db_url)[0][3] == "open", timeout=20, message="the sweep opens it again")
        r = httpx.post(f"{base}/followups/{fid}/done", headers=h("rep-1"))
        assert r.status_code == 200 and r.json()["state"] == "done"
        r = httpx.post(f"{base}/followups/{fid}/dismiss", json={"reason": "x"}, headers=h("rep-1"))
        assert r.status_code == 409 and r.json()["state"] == "done"
        assert len(rows(db_url)) == 1 and len(query(db_url, "SELECT 1 FROM incidents WHERE category = "
                                                            "'followup_overdue'")) == 1

        # an incident of this valuable customer resolved -> one resolved_check follow-up (on_resolved port)
        inc = make_incident(customer_id="champ", incident_key=f"parcel-{run_id}", occurred_at=datetime.now(timezone.utc),
                            severity=Severity.high)
        with Emitter(broker.bootstrap, topic_prefix=f"t{run_id}.") as em:
            em.emit(inc)
        wait_until(lambda: query(db_url, "SELECT status FROM incidents WHERE incident_key = :k", k=inc.incident_key),
                   timeout=30, message="the customer's incident")
        r = httpx.post(f"{base}/incidents/{inc.incident_key}/resolve", headers=as_director)
        assert r.status_code == 202, r.text
        wait_until(lambda: [x for x in rows(db_url) if x[1] == "resolved_check"], timeout=30,
                   message="a resolved_check follow-up")
        time.sleep(2 * SWEEP_S)
        assert [(x[1], x[2], x[3]) for x in rows(db_url) if x[1] == "resolved_check"] == [("resolved_check", "rep-1", "open")]
