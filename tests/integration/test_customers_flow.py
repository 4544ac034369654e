"""Two workers share the partitions; the customer profiles they keep in SQL, in the reporting currency with
what no rate covers kept apart, equal the offline replay; reads score RFM against every customer."""

from __future__ import annotations

import json
import subprocess
import sys
import zlib
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from pipeline.emitter import Emitter
from pipeline.simulate import Simulator
from tests.support.services import director_directory, metric_value, query, wait_until

pytestmark = pytest.mark.integration

FIELDS = ("orders_count", "total_spend", "refunds", "average_order_value", "first_order_at", "last_order_at",
          "feedback_count", "currency", "unconverted")
# Orders in several currencies (the shipped config/currencies.yaml reports in USD; CHF has no rate there)
CURRENCIES = ("EUR", "EUR", "JPY", "USD", "CHF")


def in_currency(e):
    """One currency per order, for every event of that order."""
    if e.event_type != "order":
        return e
    return e.model_copy(update={"currency": CURRENCIES[zlib.crc32(e.order_id.encode()) % len(CURRENCIES)]})


def test_profiles_equal_offline_replay(broker, make_worker, db_url, run_id, tmp_path):
    directory, auth = director_directory(tmp_path, run_id)   # sees every region and the company's KPIs
    w1, w2 = (make_worker(name, SALESPULSE_PATHS__DIRECTORY=directory) for name in ("w1", "w2"))
    w1.wait_ready()
    w2.wait_ready()
    sim = Simulator(seed=11, customers=150)
    start = datetime.now(timezone.utc) - timedelta(days=30)
    events = [sim.next(start + timedelta(minutes=i)) for i in range(1500)]
    events = [in_currency(e) for e in events if e.event_type != "incident"]  # incidents: see escalation tests
    lines = [e.model_dump_json() for e in events]
    (tmp_path / "events.jsonl").write_text("\n".join(lines) + "\n")
    with Emitter(broker.bootstrap, topic_prefix=f"t{run_id}.") as em:
        for e in events:
            em.emit(e)
            if e.event_type == "order" and hash(e.event_id) % 10 == 0:
                em.emit(e)  # redelivered: must not count twice

    replay = subprocess.run([sys.executable, "-m", "agents.cli.main", "customers", "replay",
                             str(tmp_path / "events.jsonl")], capture_output=True, text=True, timeout=120)
    assert replay.returncode == 0, replay.stderr
    expected = {p["customer_id"]: p for p in map(json.loads, replay.stdout.splitlines())}

    def stored():
        return {cid: snap for cid, snap in query(db_url, "SELECT customer_id, snapshot FROM customer_profiles")}

    def matches():
        got = stored()
        if set(got) != set(expected):
            return False
        return all({k: json.loads(v) if isinstance(v, str) else v for k, v in [("s", got[c])]}["s"][f] == expected[c][f]
                   for c in expected for f in FIELDS)

    wait_until(matches, timeout=90, interval=1.0, message="SQL profiles equal the offline replay")
    assert any(p["unconverted"] for p in expected.values()), "the events cover amounts kept apart"
    assert all(metric_value(w.metrics(), "salespulse_events_processed_total") > 0 for w in (w1, w2)), \
        "both workers processed events"
    # RFM scored against every customer (API) equals the replay's, which saw every customer
    for cid in list(expected)[:20]:
        view = httpx.get(f"{w1.base_url}/customers/{cid}", headers=auth, timeout=10).json()
        assert view["rfm"] == expected[cid]["rfm"], cid
    assert httpx.get(f"{w1.base_url}/customers/nobody", headers=auth, timeout=10).status_code == 404
    kpis = httpx.get(f"{w2.base_url}/kpis?window=total", headers=auth, timeout=30).json()
    assert kpis["windows"]["total"]
