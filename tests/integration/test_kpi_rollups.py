"""Two workers fold orders, funnel moves and spend into KPI rollups: the cells of every partition, summed,
equal the offline replay of the same events (redeliveries included); GET /kpis reads them; changed windows
are published as KpiSnapshot on the kpis topic."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import httpx
import orjson
import pytest

from agents.kpis import KpiState, apply_funnel, apply_order, apply_spend, load_rates, load_targets
from agents.kpis.cells import PORTRAIT, merge
from pipeline.emitter import Emitter
from pipeline.simulate import Simulator
from tests.support.services import director_directory, query, read_topic, wait_until

pytestmark = pytest.mark.integration
APPLY = {"order": apply_order, "funnel": apply_funnel, "campaign_spend": apply_spend}


def comparable(cells: dict) -> dict:
    """Portrait traits from the customer capability (segment, value band) depend on when the funnel move met
    the customer's profile; every other cell is a pure function of the events."""
    out = {}
    for k, v in cells.items():
        if k[0] == PORTRAIT:
            v = {t: n for t, n in v.items() if t.split(":", 1)[0] not in ("segment", "value_band")}
        if v:
            out[k] = v
    return out


def test_rollups_of_two_workers_equal_the_replay(broker, make_worker, db_url, run_id, tmp_path):
    directory, auth = director_directory(tmp_path, run_id)   # sees every region and the company's KPIs
    w1, w2 = (make_worker(name, SALESPULSE_PATHS__DIRECTORY=directory) for name in ("w1", "w2"))
    w1.wait_ready()
    w2.wait_ready()
    sim = Simulator(seed=5, customers=120)
    start = datetime.now(timezone.utc) - timedelta(days=40)
    events = [e for e in (sim.next(start + timedelta(minutes=20 * i)) for i in range(1500))
              if e.event_type in APPLY]
    kinds = {e.event_type for e in events}
    assert kinds == set(APPLY), kinds
    (tmp_path / "events.jsonl").write_text("\n".join(e.model_dump_json() for e in events) + "\n")
    with Emitter(broker.bootstrap, topic_prefix=f"t{run_id}.") as em:
        for i, e in enumerate(events):
            em.emit(e)
            if i % 9 == 0:
                em.emit(e)   # redelivered: must change nothing

    rates = load_rates()
    state = KpiState(rates, load_targets(reporting_currency=rates.reporting_currency).rep_team)
    for e in events:
        APPLY[e.event_type](state, e)
    expected = comparable(state.cells)

    def stored() -> dict:
        rows = query(db_url, "SELECT kind, scope, granularity, bucket, dimension, value, counts FROM kpi_cells")
        return comparable(merge((tuple(r[:6]), orjson.loads(r[6])) for r in rows))

    wait_until(lambda: stored() == expected, timeout=120, interval=1.0,
               message="the rollups of both workers equal the replay")
    partitions = query(db_url, "SELECT DISTINCT kind, partition FROM kpi_cells WHERE kind = 'o'")
    assert len(partitions) > 1, "orders of several partitions"

    # GET /kpis (either worker) answers from the rollups what `kpis replay` prints for the same events
    now = datetime.now(timezone.utc).isoformat()
    replay = subprocess.run([sys.executable, "-m", "agents.cli.main", "kpis", "replay", "--now", now,
                             "--window", "total", "--window", "month", str(tmp_path / "events.jsonl")],
                            capture_output=True, text=True, timeout=120)
    assert replay.returncode == 0, replay.stderr
    offline = json.loads(replay.stdout)["windows"]
    api = httpx.get(f"{w2.base_url}/kpis?window=month,total", headers=auth, timeout=30).json()["windows"]
    for g in ("total", "month"):
        assert [len(s["rows"]) for s in api[g]] == [len(s["rows"]) for s in offline[g]]
        for a, o in zip(api[g], offline[g]):
            for part in ("rows", "funnel", "campaigns", "unconverted"):
                assert a[part] == o[part], (g, a["bucket_start"], part)

    # `salespulse kpis show` reads the same rollups
    show = subprocess.run([sys.executable, "-m", "agents.cli.main", "kpis", "show", "--database", db_url,
                           "--window", "total"], capture_output=True, text=True, timeout=120)
    assert show.returncode == 0, show.stderr
    assert json.loads(show.stdout)["windows"]["total"][0]["rows"] == offline["total"][0]["rows"]

    # the total window was published on the kpis topic, as read from the rollups (the latest record counts)
    def published_total():
        records = read_topic(broker.bootstrap, f"t{run_id}.kpis", expect=10**6, timeout=3)
        totals = [json.loads(r.value) for r in records if r.key == b"total:0"]
        return totals[-1] if totals and totals[-1]["rows"] == offline["total"][0]["rows"] else None

    snap = wait_until(published_total, timeout=30, interval=1.0, message="the total window published as it stands")
    assert snap["event_type"] == "kpi_snapshot" and snap["granularity"] == "total"
