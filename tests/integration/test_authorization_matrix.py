"""Who may read and do what, from one table, against a real worker: every read and action route x no token,
a rep of each region, a team lead, a sales manager, the director, a channel's ingest token and service
tokens -> the status and what is visible. Plus the per-token read rate (429, Retry-After) and the /kpis
cache shared by every spelling of one window list."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

import httpx
import pytest
import yaml

from agents.escalation.auth import hash_token
from pipeline.brokers.base import free_port
from pipeline.emitter import Emitter
from tests.support.coaching import observe_days
from tests.support.factories import make_incident, make_order
from tests.support.services import ROOT, query, wait_until

pytestmark = pytest.mark.integration

# principal -> directory person id, or ("service", scopes, region), or "channel" / None
PRINCIPALS = {
    "none": None,
    "rep north": "rep-1",
    "rep south": "rep-3",
    "rep east": "rep-5",
    "rep west": "rep-7",
    "team lead": "lead-north",
    "sales manager": "manager-north",
    "director": "director",
    "channel token": "channel",
    "service": ("service", ["read:incidents", "read:customers", "read:kpis"], None),
    "service kpis south": ("service", ["read:kpis"], "south"),
}
N, S = "north", "south"   # the two incidents, customers and KPI regions the worker holds
ALL_PEOPLE = {"rep north", "rep south", "rep east", "rep west", "team lead", "sales manager", "director"}
NO_AUTH = {"none": 401, "channel token": 401}


def row(visible: dict[str, set], refused: dict[str, int]) -> dict[str, tuple[int, set]]:
    """Every principal: (status, what it sees); `refused` names those answered with an error status."""
    return {p: (refused[p], set()) if p in refused else (200, visible.get(p, set())) for p in PRINCIPALS}


SCOPED = {"rep north": {N}, "rep south": {S}, "team lead": {N}, "sales manager": {N}, "director": {N, S},
          "service": {N, S}}
# route -> principal -> (status, visible): the one table the test runs
MATRIX = {
    "GET /incidents": row(SCOPED, {**NO_AUTH, "service kpis south": 403}),
    "GET /incidents?state=all": row(SCOPED, {**NO_AUTH, "service kpis south": 403}),
    "GET /customers/{id}": row(SCOPED, {**NO_AUTH, "service kpis south": 403}),
    "GET /customers/{id}/timeline": row(SCOPED, {**NO_AUTH, "service kpis south": 403}),
    "GET /kpis": row({**SCOPED, "service kpis south": {S}}, NO_AUTH),
    "GET /board/api/me": row({p: {PRINCIPALS[p]} for p in ALL_PEOPLE},
                             {**NO_AUTH, "service": 403, "service kpis south": 403}),
    "GET /board/api/incidents": row(SCOPED, {**NO_AUTH, "service": 403, "service kpis south": 403}),
    "GET /metrics (API port)": row({}, {p: 404 for p in PRINCIPALS}),  # served on its own listener instead
    "GET /metrics (metrics port)": row({p: {"scraped"} for p in PRINCIPALS}, {}),
    # the north incident sits at level 1: everyone on a level may act on it, in scope (not another region)
    "POST /incidents/{key}/ack": row({}, {**NO_AUTH, **{p: 202 for p in ("rep north", "team lead", "sales manager",
                                                                         "director")},
                                          "rep south": 403, "rep east": 403, "rep west": 403, "service": 403,
                                          "service kpis south": 403}),
}
MATRIX["POST /incidents/{key}/resolve"] = MATRIX["POST /incidents/{key}/ack"]
# follow-ups: a rep sees their own (north: rep-1's) and their region's queue (south: queue:south); the snooze
# carries a bad time, so whoever is in scope gets 400 and nothing changes, whoever is not 403
FOLLOWUP_SCOPE = {"rep north": {N}, "rep south": {S}, "team lead": {N}, "sales manager": {N}, "director": {N, S}}
MATRIX["GET /followups"] = row(FOLLOWUP_SCOPE, {**NO_AUTH, "service": 403, "service kpis south": 403})
MATRIX["POST /followups/{id}/snooze"] = row({}, {**NO_AUTH, **{p: 400 for p in ("rep north", "team lead",
                                                                               "sales manager", "director")},
                                                "rep south": 403, "rep east": 403, "rep west": 403, "service": 403,
                                                "service kpis south": 403})
# coaching: a rep sees their own items only (north: rep-1's), a lead their team's, a manager their region's; the
# assign names an unknown topic, so whoever may assign gets 400 and nothing changes; rep-1 may not assign their own
MATRIX["GET /coaching"] = row(FOLLOWUP_SCOPE, {**NO_AUTH, "service": 403, "service kpis south": 403})
MATRIX["POST /coaching/{id}/assign"] = row({}, {**NO_AUTH, **{p: 400 for p in ("team lead", "sales manager", "director")},
                                                **{p: 403 for p in ("rep north", "rep south", "rep east", "rep west",
                                                                    "service", "service kpis south")}})


def setup_directory(tmp, run_id: str) -> tuple[dict[str, str], str, str]:
    """A directory with a token per principal; (principal -> token, the channel token's sha256, its path)."""
    directory = yaml.safe_load((ROOT / "config" / "directory.yaml").read_text())
    tokens: dict[str, str] = {}
    services = []
    for name, who in PRINCIPALS.items():
        if who is None:
            continue
        tokens[name] = f"tok-{name.replace(' ', '-')}-{run_id}"
        if isinstance(who, tuple):
            _, scopes, region = who
            services.append({"id": name.replace(" ", "-"), "name": name, "scopes": scopes, "region": region,
                             "token_sha256": hash_token(tokens[name])})
        elif who != "channel":
            next(p for p in directory["people"] if p["id"] == who)["token_sha256"] = hash_token(tokens[name])
    tokens["rate"] = f"tok-rate-{run_id}"   # rep-8 only exercises the read rate
    next(p for p in directory["people"] if p["id"] == "rep-8")["token_sha256"] = hash_token(tokens["rate"])
    directory["services"] = services
    path = tmp / "directory.yaml"
    path.write_text(yaml.safe_dump(directory))
    return tokens, hash_token(tokens["channel token"]), str(path)


def test_every_route_answers_each_principal_by_the_table(broker, make_worker, db_url, run_id, tmp_path):
    tokens, channel_sha, directory = setup_directory(tmp_path, run_id)
    metrics_port = free_port()
    burst = 40
    w = make_worker(SALESPULSE_PATHS__DIRECTORY=directory, SALESPULSE_WEB__METRICS_PORT=metrics_port,
                    SALESPULSE_WEB__READ_RATE_PER_S=0.2, SALESPULSE_WEB__READ_BURST=burst,
                    SALESPULSE_INGEST_HTTP__TOKENS_SHA256=json.dumps({"phone": [channel_sha]}))
    w.wait_ready()
    now = datetime.now(timezone.utc)
    keys = {r: f"inc-{r}-{run_id}" for r in (N, S)}
    customers = {r: f"cust-{r}-{run_id}" for r in (N, S)}
    owners = {N: "rep-1", S: "rep-3"}
    with Emitter(broker.bootstrap, topic_prefix=f"t{run_id}.") as em:
        for r in (N, S):
            em.emit(make_order(event_id=uuid.uuid4(), occurred_at=now, order_id=f"o-{r}-{run_id}",
                               customer_id=customers[r], region=r, sales_rep_id=owners[r]))
            # a customer without a profile: the chain is the region's, not an owner's
            em.emit(make_incident(event_id=uuid.uuid4(), occurred_at=now, incident_key=keys[r],
                                  customer_id=f"nobody-{r}-{run_id}", region=r))
        em.flush()
    wait_until(lambda: len(query(db_url, "SELECT 1 FROM incidents")) == 2
               and len(query(db_url, "SELECT 1 FROM customer_profiles")) == 2,
               timeout=30, message="incidents and profiles stored")

    followup_ids = {N: f"fu-{N}-{run_id}", S: f"fu-{S}-{run_id}"}
    insert_followups(db_url, now, {N: (followup_ids[N], customers[N], "rep-1", "team-north"),
                                   S: (followup_ids[S], customers[S], "queue:south", None)})

    # coaching items: rep-1 behind rep-2 (north), rep-3 behind rep-4 (south), through the sweep's driver
    observe_days(db_url, yaml.safe_load(open(directory).read()), lambda at: {
        "rep-1": {"conversion_qualified": 0.1}, "rep-2": {"conversion_qualified": 0.5},
        "rep-3": {"ack_minutes": 300.0}, "rep-4": {"ack_minutes": 10.0}}, range(5))
    coaching_ids = {r: i for i, r in query(db_url, "SELECT item_id, region FROM coaching_items")}
    assert set(coaching_ids) == {N, S}

    def headers(principal: str) -> dict:
        return {"Authorization": f"Bearer {tokens[principal]}"} if principal in tokens else {}

    def incidents_seen(body) -> set:
        return {r for r in (N, S) if keys[r] in {i["incident_key"] for i in body["incidents"]}}

    def get(url: str, principal: str) -> httpx.Response:
        return httpx.get(url, headers=headers(principal), timeout=30)

    def run(route: str, principal: str) -> tuple[int, set]:
        """The status and what is visible, as the table writes them."""
        base = w.base_url
        if route.startswith("GET /incidents"):
            r = get(base + "/incidents" + route.removeprefix("GET /incidents"), principal)
            return r.status_code, incidents_seen(r.json()) if r.status_code == 200 else set()
        if route.startswith("GET /customers/{id}"):
            tail = route.removeprefix("GET /customers/{id}")
            answers = {reg: get(f"{base}/customers/{customers[reg]}{tail}", principal) for reg in (N, S)}
            codes = {a.status_code for a in answers.values()}
            if codes & {401, 403}:
                assert len(codes) == 1, codes
                return codes.pop(), set()
            assert codes <= {200, 404}, codes   # out of scope answers as an unknown customer does
            return 200, {reg for reg, a in answers.items() if a.status_code == 200}
        if route == "GET /kpis":
            r = get(base + "/kpis?window=total", principal)
            if r.status_code != 200:
                return r.status_code, set()
            snaps = r.json()["windows"]["total"]
            return 200, {row["value"] for s in snaps for row in s["rows"] if row["dimension"] == "region"}
        if route == "GET /board/api/me":
            r = get(base + "/board/api/me", principal)
            return r.status_code, {r.json()["id"]} if r.status_code == 200 else set()
        if route == "GET /board/api/incidents":
            r = get(base + "/board/api/incidents", principal)
            return r.status_code, incidents_seen(r.json()) if r.status_code == 200 else set()
        if route == "GET /metrics (API port)":
            return get(base + "/metrics", principal).status_code, set()
        if route == "GET /metrics (metrics port)":
            r = get(f"http://127.0.0.1:{metrics_port}/metrics", principal)
            return r.status_code, {"scraped"} if "salespulse_events_consumed_total" in r.text else set()
        if route == "GET /followups":
            r = get(base + "/followups", principal)
            seen = {f["id"] for f in r.json()["followups"]} if r.status_code == 200 else set()
            return r.status_code, {reg for reg, fid in followup_ids.items() if fid in seen}
        if route == "POST /followups/{id}/snooze":
            r = httpx.post(f"{base}/followups/{followup_ids[N]}/snooze", json={"until": "soon"},
                           headers=headers(principal), timeout=30)
            return r.status_code, set()
        if route == "GET /coaching":
            r = get(base + "/coaching", principal)
            seen = {i["id"] for i in r.json()["items"]} if r.status_code == 200 else set()
            return r.status_code, {reg for reg, cid in coaching_ids.items() if cid in seen}
        if route == "POST /coaching/{id}/assign":
            r = httpx.post(f"{base}/coaching/{coaching_ids[N]}/assign", json={"topic": "nope"},
                           headers=headers(principal), timeout=30)
            return r.status_code, set()
        kind = route.rsplit("/", 1)[1]
        r = httpx.post(f"{base}/incidents/{keys[N]}/{kind}", headers=headers(principal), timeout=30)
        return r.status_code, set()

    got = {route: {p: run(route, p) for p in PRINCIPALS} for route in MATRIX}
    wrong = [f"{route} as {p}: expected {MATRIX[route][p]}, got {got[route][p]}"
             for route in MATRIX for p in PRINCIPALS if got[route][p] != MATRIX[route][p]]
    assert not wrong, "\n".join(wrong)

    # every refusal is one JSON line naming what went wrong
    for principal, status in (("none", 401), ("channel token", 401), ("service kpis south", 403)):
        r = get(w.base_url + "/customers/" + customers[N], principal)
        assert r.status_code == status and set(r.json()) == {"error"} and "\n" not in r.json()["error"]
    r = httpx.post(f"{w.base_url}/incidents/{keys[N]}/ack", headers=headers("rep south"), timeout=30)
    assert "outside their scope" in r.json()["error"]

    # a regional view: the region's own totals, no company-wide campaigns
    north = get(w.base_url + "/kpis?window=total", "rep north").json()
    company = get(w.base_url + "/kpis?window=total", "director").json()
    all_orders = lambda body: next(r["orders"] for r in body["windows"]["total"][0]["rows"]  # noqa: E731
                                   if r["dimension"] == "all")
    assert (north["region"], all_orders(north), all_orders(company)) == ("north", 1, 2)
    assert north["windows"]["total"][0]["campaigns"] == [] and north["competitors"] == {"total": []}

    # one cache entry per window set, however spelled: the same computation answers both
    a = get(w.base_url + "/kpis?window=total,month", "director").json()
    b = get(w.base_url + "/kpis?window=month,total,month", "director").json()
    assert a["as_of"] == b["as_of"] and a == b
    assert get(w.base_url + "/kpis?window=total,week", "director").status_code == 400

    # a token over its read rate gets 429 with Retry-After; another token is not slowed by it
    answers = [get(w.base_url + "/board/api/me", "rate") for _ in range(burst + 1)]
    assert [r.status_code for r in answers[:burst]] == [200] * burst
    assert answers[-1].status_code == 429 and int(answers[-1].headers["Retry-After"]) >= 1
    assert set(answers[-1].json()) == {"error"}
    assert get(w.base_url + "/board/api/me", "rep west").status_code == 200


def insert_followups(db_url: str, now: datetime, rows: dict) -> None:
    """Follow-up rows as the worker's sink writes them (region -> id, customer, assignee, team)."""
    import asyncio

    from pipeline.db.engine import make_engine
    from pipeline.db.models import FollowUpRow
    from pipeline.settings import DatabaseSettings

    async def _insert():
        engine = make_engine(DatabaseSettings(url=db_url))
        try:
            async with engine.begin() as conn:
                for region, (fid, customer, assignee, team) in rows.items():
                    await conn.execute(FollowUpRow.__table__.insert().values(
                        event_id=fid, customer_id=customer, reason="churn_risk", owner_rep_id=None, created_at=now,
                        due_at=now, task={"detail": "matrix"}, state="open", assignee=assignee, region=region,
                        team=team, partition=None, updated_at=now, escalated_at=now, notified_at=now))
        finally:
            await engine.dispose()

    asyncio.run(_insert())
