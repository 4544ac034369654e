"""The incident API and CLI on a real worker: tokens, permissions, commands through Kafka."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timezone

import httpx
import pytest
import yaml

from agents.escalation.auth import hash_token
from pipeline.emitter import Emitter
from schemas.events import Channel, IncidentEvent, Severity
from tests.support.services import ROOT, query, wait_until

pytestmark = pytest.mark.integration


def test_ack_needs_a_token_and_the_right_level(broker, make_worker, db_url, run_id, tmp_path):
    directory = yaml.safe_load((ROOT / "config" / "directory.yaml").read_text())
    tokens = {}
    for person in directory["people"]:
        tokens[person["id"]] = f"tok-{person['id']}-{run_id}"
        person["token_sha256"] = hash_token(tokens[person["id"]])
    (tmp_path / "directory.yaml").write_text(yaml.safe_dump(directory))
    w = make_worker(SALESPULSE_PATHS__DIRECTORY=tmp_path / "directory.yaml")
    w.wait_ready()
    people = {p["id"]: p for p in directory["people"]}
    rep = next(p for p in people.values() if p["role"] == "account_rep")
    director = next(p for p in people.values() if p["role"] == "director")
    key = f"api-{run_id}"
    ev = IncidentEvent(occurred_at=datetime.now(timezone.utc), channel=Channel.store, customer_id="c-api",
                       incident_key=key, severity=Severity.critical, category="product_safety",
                       title="smoke from a charger", region=rep.get("region"))
    with Emitter(broker.bootstrap, topic_prefix=f"t{run_id}.") as em:
        em.emit(ev)
    wait_until(lambda: query(db_url, "SELECT status FROM incidents WHERE incident_key = :k", k=key),
               timeout=30, message="incident stored")
    base = w.base_url
    as_director = {"Authorization": f"Bearer {tokens[director['id']]}"}
    assert httpx.get(f"{base}/incidents?state=open").status_code == 401  # reads need a token too
    listed = httpx.get(f"{base}/incidents?state=open", headers=as_director).json()["incidents"]
    assert [i["incident_key"] for i in listed] == [key] and listed[0]["level_name"] == "team_lead"
    assert httpx.get(f"{base}/incidents?state=bogus", headers=as_director).status_code == 400
    assert httpx.post(f"{base}/incidents/{key}/ack").status_code == 401
    assert httpx.post(f"{base}/incidents/{key}/ack", headers={"Authorization": "Bearer nope"}).status_code == 401
    # a critical incident starts at the team lead: an account rep (a level below) may not act on it
    r = httpx.post(f"{base}/incidents/{key}/ack", headers={"Authorization": f"Bearer {tokens[rep['id']]}"})
    assert r.status_code == 403 and "may not ack" in r.json()["error"]
    assert httpx.post(f"{base}/incidents/nope/ack",
                      headers={"Authorization": f"Bearer {tokens[director['id']]}"}).status_code == 404
    r = httpx.post(f"{base}/incidents/{key}/ack", json={"comment": "on it"},
                   headers={"Authorization": f"Bearer {tokens[director['id']]}"})
    assert r.status_code == 202, r.text
    wait_until(lambda: query(db_url, "SELECT status, acked_by FROM incidents WHERE incident_key = :k", k=key)
               == [("acknowledged", director["id"])], timeout=30, message="acknowledged")

    # the CLI resolves it through the same commands topic
    out = subprocess.run([sys.executable, "-m", "agents.cli.main", "incidents", "resolve", key, "--by",
                          director["id"], "--broker", broker.bootstrap, "--topic-prefix", f"t{run_id}."],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    wait_until(lambda: query(db_url, "SELECT status FROM incidents WHERE incident_key = :k", k=key)
               == [("resolved",)], timeout=30, message="resolved")
    listed = subprocess.run([sys.executable, "-m", "agents.cli.main", "incidents", "list", "--state", "all",
                             "--json", "--db", db_url], capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0 and key in listed.stdout and '"resolved"' in listed.stdout
    actions = [a for (a,) in query(db_url, "SELECT action FROM incident_audit WHERE incident_key = :k AND "
                                           "action NOT LIKE 'notify:%' ORDER BY at", k=key)]
    assert actions == ["triggered", "acknowledged", "resolved"]
