"""Cases on a real worker and broker: negative feedback opens one case per customer and category, more
feedback updates it, a missed SLA pages the owner (or the department queue) through the escalation
chain once, the API answers 404 / 403 / 409, and `cases replay` decides what the worker decided."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest
import yaml

from agents.escalation.auth import hash_token
from pipeline.emitter import Emitter
from schemas.events import Channel, FeedbackEvent, OrderEvent, OrderStatus
from tests.support.receivers import WebhookReceiver
from tests.support.services import ROOT, query, wait_until

pytestmark = pytest.mark.integration

LATE = "My parcel is two weeks late and nobody answers my emails."          # delivery, negative, normal
AGAIN = "The delivery was late again and the box arrived damaged."         # delivery, negative, normal
PRICES = "Your prices went up again, too expensive."                       # pricing, negative, normal
PRAISE = "I love it, great service, thank you!"                            # no case


def _configs(tmp_path, run_id, hook_url):
    directory = yaml.safe_load((ROOT / "config" / "directory.yaml").read_text())
    tokens = {}
    for person in directory["people"]:
        tokens[person["id"]] = f"tok-{person['id']}-{run_id}"
        person["token_sha256"] = hash_token(tokens[person["id"]])
        person["webhook"] = f"{hook_url}/{person['id']}"  # the receiver's path names who was paged
    (tmp_path / "directory.yaml").write_text(yaml.safe_dump(directory))
    cases = yaml.safe_load((ROOT / "config" / "cases.yaml").read_text())
    # around the clock (the office calendar sleeps on weekends) and swept every second
    cases.update(calendar=None, sweep_interval_s=1)
    cases["categories"]["delivery"] = {"first_response_hours": 1, "resolution_hours": 48}
    cases["categories"]["pricing"] = {"first_response_hours": 0.25, "resolution_hours": 48}
    (tmp_path / "cases.yaml").write_text(yaml.safe_dump(cases))
    return tokens, {"SALESPULSE_PATHS__DIRECTORY": tmp_path / "directory.yaml",
                    "SALESPULSE_PATHS__CASES": tmp_path / "cases.yaml"}


def _pages(hooks: WebhookReceiver, key: str) -> list[tuple[str, dict]]:
    return [(path.strip("/"), body) for _, path, body in hooks.received if body.get("incident_key") == key]


def test_cases_open_merge_breach_page_and_answer(broker, make_worker, db_url, run_id, tmp_path):
    with WebhookReceiver() as hooks:
        tokens, env = _configs(tmp_path, run_id, hooks.url)
        w = make_worker(**env)
        w.wait_ready()
        now = datetime.now(timezone.utc)
        a, b = f"cust-a-{run_id}", f"cust-b-{run_id}"
        order = OrderEvent(occurred_at=now - timedelta(hours=4), channel=Channel.web, customer_id=a,
                           order_id=f"o-{run_id}", status=OrderStatus.paid, amount="120.00", currency="EUR",
                           sales_rep_id="rep-3", region="south")
        feedback = [
            FeedbackEvent(occurred_at=now - timedelta(hours=3), channel=Channel.email, customer_id=a, text=LATE),
            FeedbackEvent(occurred_at=now - timedelta(hours=2, minutes=50), channel=Channel.email, customer_id=a,
                          text=AGAIN),
            FeedbackEvent(occurred_at=now - timedelta(minutes=30), channel=Channel.email, customer_id=b, text=PRICES),
            FeedbackEvent(occurred_at=now - timedelta(minutes=20), channel=Channel.email, customer_id=b, text=PRAISE),
        ]
        (tmp_path / "events.jsonl").write_text("".join(e.model_dump_json() + "\n" for e in [order, *feedback]))
        with Emitter(broker.bootstrap, topic_prefix=f"t{run_id}.") as em:
            em.emit(order)
            em.flush()
            # the owner comes from the customer's profile: the order is in before the complaints
            wait_until(lambda: query(db_url, "SELECT 1 FROM customer_profiles WHERE customer_id = :c", c=a),
                       timeout=60, message="profile of a")
            for e in feedback:
                em.emit(e)

        def cases():
            return query(db_url, "SELECT customer_id, category, owner, state, feedback_count, region, team, case_id, "
                                 "first_response_due, breach FROM cases ORDER BY customer_id")

        wait_until(lambda: [r[:5] for r in cases()] == [(a, "delivery", "rep-3", "open", 2),
                                                        (b, "pricing", "queue:finance", "open", 1)],
                   timeout=60, message="one case per customer and category, the second complaint merged")
        case_a, case_b = cases()
        assert case_a[5:7] == ("south", "team-south")

        # both first responses were due in the past: the first sweep raises each once, through the chain
        key_a, key_b = f"case-breach:{case_a[7]}:first_response", f"case-breach:{case_b[7]}:first_response"
        # each target is its own webhook delivery: wait for the ones expected, then for anything more
        wait_until(lambda: "rep-3" in {who for who, _ in _pages(hooks, key_a)}
                   and "finance" in {who for who, _ in _pages(hooks, key_b)}, timeout=60, message="breach pages")
        time.sleep(3)  # three more sweeps: nothing raised again, nobody else paged
        paged_a = {who for who, _ in _pages(hooks, key_a)}
        assert paged_a == {"rep-3"}, paged_a                     # the owner rep, nobody else
        body = _pages(hooks, key_a)[0][1]
        assert (body["category"], body["level_name"], body["customer_id"]) == ("case_sla_breach", "account_rep", a)
        # the finance queue: the finance desk (no region: every region), with the chain's first level (no
        # owner rep and no region: the directory's fallback)
        assert {who for who, _ in _pages(hooks, key_b)} == {"finance", "duty-officer"}
        assert query(db_url, "SELECT incident_key, category, count FROM incidents WHERE category = 'case_sla_breach' "
                             "ORDER BY incident_key") == sorted([(key_a, "case_sla_breach", 1),
                                                                 (key_b, "case_sla_breach", 1)])
        assert len(_pages(hooks, key_a)) == 1
        assert [r[9] for r in cases()] == ["first_response", "first_response"]

        # the offline replay decides the same cases, owners, deadlines and breaches
        cenv = {**os.environ, **{k: str(v) for k, v in env.items()}}
        out = subprocess.run([sys.executable, "-m", "agents.cli.main", "cases", "replay",
                              str(tmp_path / "events.jsonl"), "--now", datetime.now(timezone.utc).isoformat()],
                             capture_output=True, text=True, timeout=120, env=cenv)
        assert out.returncode == 0, out.stderr
        lines = [json.loads(x) for x in out.stdout.splitlines()]
        assert sorted((x["customer_id"], x["category"], x["owner"], x["case_id"], x["due_at"]) for x in lines
                      if x["event"] == "opened") == \
            [(r[0], r[1], r[2], r[7], datetime.fromisoformat(str(r[8])).replace(tzinfo=timezone.utc).isoformat())
             for r in cases()]
        assert sorted((x["case_id"], x["sla"]) for x in lines if x["event"] == "breached") == \
            sorted((r[7], r[9]) for r in cases())

        # the API: a token, the scope, the state
        base = w.base_url

        def as_(pid):
            return {"Authorization": f"Bearer {tokens[pid]}"}

        assert httpx.get(f"{base}/cases").status_code == 401
        listed = httpx.get(f"{base}/cases", headers=as_("director")).json()["cases"]
        assert {c["id"] for c in listed} == {case_a[7], case_b[7]}
        assert set(listed[0]) == {"id", "customer_id", "category", "state", "owner", "region", "team", "opened_at",
                                  "first_response_due", "resolution_due", "responded_at", "resolved_at",
                                  "feedback_count", "incident_key", "breach"}
        assert httpx.get(f"{base}/cases", headers=as_("rep-1")).json()["cases"] == []      # another region
        mine = httpx.get(f"{base}/cases?mine=1", headers=as_("rep-3")).json()["cases"]
        assert [c["id"] for c in mine] == [case_a[7]]
        assert [c["id"] for c in httpx.get(f"{base}/cases?mine=1", headers=as_("finance")).json()["cases"]] == \
            [case_b[7]]
        assert httpx.get(f"{base}/cases?state=nope", headers=as_("director")).status_code == 400
        assert httpx.post(f"{base}/cases/nope/respond", headers=as_("director")).status_code == 404
        r = httpx.post(f"{base}/cases/{case_a[7]}/respond", headers=as_("rep-1"))
        assert r.status_code == 403 and "outside their scope" in r.json()["error"]
        r = httpx.post(f"{base}/cases/{case_a[7]}/respond", headers=as_("rep-4"))   # same region, not theirs
        assert r.status_code == 403
        r = httpx.post(f"{base}/cases/{case_a[7]}/respond", headers=as_("rep-3"))
        assert r.status_code == 200 and r.json()["state"] == "responded" and r.json()["responded_at"]
        r = httpx.post(f"{base}/cases/{case_a[7]}/respond", headers=as_("rep-3"))
        assert r.status_code == 409 and r.json()["state"] == "responded"
        assert httpx.post(f"{base}/cases/{case_a[7]}/resolve", headers=as_("lead-south")).status_code == 200
        r = httpx.post(f"{base}/cases/{case_a[7]}/resolve", headers=as_("rep-3"))
        assert r.status_code == 409 and "resolved" in r.json()["error"]

        # the CLI: the same rules, one line on a mistake
        cli = [sys.executable, "-m", "agents.cli.main", "cases"]
        out = subprocess.run([*cli, "respond", case_b[7], "--by", "finance", "--db", db_url],
                             capture_output=True, text=True, timeout=60, env=cenv)
        assert out.returncode == 0 and json.loads(out.stdout)["state"] == "responded", out.stderr
        out = subprocess.run([*cli, "respond", case_b[7], "--by", "finance", "--db", db_url],
                             capture_output=True, text=True, timeout=60, env=cenv)
        assert out.returncode == 2 and out.stderr.strip() == f"error: cannot respond case {case_b[7]}: it is responded"
        out = subprocess.run([*cli, "list", "--state", "all", "--json", "--db", db_url],
                             capture_output=True, text=True, timeout=60, env=cenv)
        assert sorted(json.loads(x)["state"] for x in out.stdout.splitlines()) == ["resolved", "responded"]

        # resolved: the worker reads it back, and the next complaint opens a new case
        time.sleep(3)
        with Emitter(broker.bootstrap, topic_prefix=f"t{run_id}.") as em:
            em.emit(FeedbackEvent(occurred_at=datetime.now(timezone.utc), channel=Channel.email, customer_id=a,
                                  text=LATE))
        wait_until(lambda: query(db_url, "SELECT state, feedback_count FROM cases WHERE customer_id = :c "
                                         "ORDER BY opened_at", c=a) == [("resolved", 2), ("open", 1)],
                   timeout=60, message="a new case after the resolved one")
