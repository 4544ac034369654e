"""Read-scaling benchmark: GET /kpis?window=month,total and GET /customers/{id} at N events / M customers.

    python bench/bench_reads.py                                  # N = M = 10,000 and 1,000,000 on SQLite
    python bench/bench_reads.py --sizes 10000 --database postgresql+asyncpg://...   # PostgreSQL (a fresh
                                                                 # database per size is created beside it)

For each size the state a worker would have written is loaded into a fresh database: the KPI rollups
(cells and facts, folded per partition by the KPI agent's own core from N simulated order / funnel /
spend events over one year) and M customer profiles (the customer capability's rows). Then a real
`salespulse worker` (embedded broker) answers the reads over HTTP. KPI answers are cached for a second,
so each timed /kpis read waits that second out (`--spacing`): every sample is a read of the rollups.
Prints one JSON object: p50 / p99 per read and size, the ratio of the largest size to the smallest,
and the rollups' rows and bytes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
import urllib.request
import uuid
import zlib
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson  # noqa: E402
import yaml  # noqa: E402
from sqlalchemy import func, insert, select  # noqa: E402

from agents.escalation.auth import hash_token  # noqa: E402
from agents.kpis import KpiState, apply_funnel, apply_order, apply_spend, load_rates, load_targets  # noqa: E402
from agents.kpis.rollups import CELLS, FACTS, cell_row  # noqa: E402
from pipeline.bench.figures import percentile  # noqa: E402
from pipeline.bench.worker import Worker  # noqa: E402
from pipeline.db.engine import make_engine  # noqa: E402
from pipeline.db.migrate import upgrade_url  # noqa: E402
from pipeline.settings import DatabaseSettings  # noqa: E402
from pipeline.simulate import Simulator  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PARTITIONS = 4
KPI_KINDS = {"order": apply_order, "funnel": apply_funnel, "campaign_spend": apply_spend}
YEAR = timedelta(days=365)
START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def fold_kpis(n: int, seed: int) -> dict[tuple[str, int], KpiState]:
    """N KPI events (orders, funnel moves, spend) spread over one year, folded per source partition."""
    rates = load_rates()
    rep_team = load_targets(reporting_currency=rates.reporting_currency).rep_team
    states: dict[tuple[str, int], KpiState] = defaultdict(lambda: KpiState(rates, rep_team))
    sim = Simulator(seed=seed, customers=max(1000, n // 10))
    step, done, i = YEAR / n, 0, 0
    while done < n:
        e = sim.next(START + step * min(i, n))
        i += 1
        apply = KPI_KINDS.get(e.event_type)
        if apply is None:
            continue
        key = e.campaign_id if e.event_type == "campaign_spend" else e.customer_id
        apply(states[(e.event_type, zlib.crc32(key.encode()) % PARTITIONS)], e)
        done += 1
        if done % 100_000 == 0:
            log(f"  folded {done:,} KPI events")
    return states


async def _insert(url: str, batches) -> None:
    engine = make_engine(DatabaseSettings(url=url))
    try:
        async with engine.begin() as conn:
            for table, rows in batches:
                for i in range(0, len(rows), 2000):
                    await conn.execute(insert(table), rows[i:i + 2000])
    finally:
        await engine.dispose()


async def _scalar(url: str, q):
    engine = make_engine(DatabaseSettings(url=url))
    try:
        async with engine.connect() as conn:
            return (await conn.execute(q)).scalar()
    finally:
        await engine.dispose()


def write_kpis(url: str, states: dict[tuple[str, int], KpiState]) -> dict:
    """The rows the KPI agent would have written for these partitions: a window's cells last changed when it
    ended (the events are replayed as they happened), "total" ones an hour ago."""
    from agents.kpis.windows import following

    cells, facts = [], []
    written = int((time.time() - 3600) * 1e6)
    for (_, partition), s in states.items():
        s.take_dirty()
        cells += [cell_row(k, v, partition, min(written, following(k[2], k[3]) or written)) for k, v in s.cells.items()]
        facts += [{"kind": kind, "key": key, "partition": partition, "fact": orjson.dumps(s.fact(kind, key)).decode()}
                  for kind, key in s.fact_keys()]
    asyncio.run(_insert(url, [(CELLS, cells), (FACTS, facts)]))
    size = func.sum(func.length(CELLS.c.counts) + func.length(CELLS.c.value) + func.length(CELLS.c.scope) + 24)
    return {"rollup_rows": len(cells), "rollup_bytes": int(asyncio.run(_scalar(url, select(size))) or 0),
            "fact_rows": len(facts)}


def write_customers(url: str, m: int, seed: int) -> list[str]:
    """M customers with 1-8 paid orders over the year, as the customer capability writes them: profile rows
    and the RFM histogram rows of 4 partitions. Returns the customer ids."""
    from agents.customers import CustomerBook
    from agents.customers.agent import PROFILES, RFM_STATS, profile_row
    from agents.customers.rfmstats import PartitionStats
    from schemas.events import Channel, LineItem, OrderEvent, OrderStatus

    rng = random.Random(seed)
    now = START + YEAR
    book = CustomerBook()
    for c in range(m):
        for o in range(rng.randrange(1, 9)):
            amount = rng.randrange(500, 50000) / 100
            book.order(OrderEvent.model_construct(
                event_id=uuid.uuid4(), occurred_at=START + timedelta(days=rng.randrange(360), minutes=rng.randrange(1440)),
                channel=Channel.web, customer_id=f"cust-{c:07d}", order_id=f"c{c}-o{o}", status=OrderStatus.paid,
                amount=Decimal(str(amount)), currency=rng.choice(["EUR", "USD", "JPY"]), region="north",
                sales_rep_id="rep-1", campaign_id=None, schema_version=1, event_type="order",
                items=(LineItem.model_construct(sku="S", category="home", quantity=1, unit_price=Decimal(str(amount))),)))
        if (c + 1) % 100_000 == 0:
            log(f"  {c + 1:,} customers built")
    stats = [PartitionStats() for _ in range(PARTITIONS)]
    rows = []
    for i, (cid, p) in enumerate(book.profiles.items()):
        stats[i % PARTITIONS].update(None, p.rfm_key())
        rows.append(profile_row(p, book.snapshot(cid, now), i % PARTITIONS, now))
    ids = list(book.profiles)
    del book
    asyncio.run(_insert(url, [(PROFILES, rows), (RFM_STATS, [r for part, s in enumerate(stats) for r in s.take(part)])]))
    return ids


def director(tmp: Path) -> tuple[Path, str]:
    directory = yaml.safe_load((ROOT / "config" / "directory.yaml").read_text())
    token = "bench-director-token"
    next(p for p in directory["people"] if p["id"] == "director")["token_sha256"] = hash_token(token)
    path = tmp / "directory.yaml"
    path.write_text(yaml.safe_dump(directory))
    return path, token


def timed_get(url: str, token: str) -> tuple[float, int]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    t = time.perf_counter()
    with urllib.request.urlopen(req, timeout=60) as r:
        body = r.read()
    return (time.perf_counter() - t) * 1000, len(body)


def summary(ms: list[float]) -> dict:
    return {"n": len(ms), "p50_ms": round(percentile(ms, 50), 2), "p99_ms": round(percentile(ms, 99), 2)}


def fresh_database(base: str | None, tmp: Path, label: str) -> str:
    if base is None:
        return f"sqlite+aiosqlite:///{tmp / f'reads-{label}.db'}"
    from tests.support.services import fresh_postgres_database
    return fresh_postgres_database(base)


def measure(size: int, args, tmp: Path, broker) -> dict:
    url = fresh_database(args.database, tmp, str(size))
    upgrade_url(url)
    out: dict = {"events": size}
    log(f"N = {size:,}: folding the KPI events")
    t = time.perf_counter()
    states = fold_kpis(size, args.seed)
    out["fold_s"] = round(time.perf_counter() - t, 1)
    out.update(write_kpis(url, states))
    del states
    log(f"M = {size:,}: building the customers")
    t = time.perf_counter()
    ids = write_customers(url, size, args.seed)
    out["customers_load_s"] = round(time.perf_counter() - t, 1)
    directory, token = director(tmp)
    w = Worker(broker_url=broker.url, flavour=args.broker, database_url=url, app_id=f"reads-{size}-{os.getpid()}",
               prefix=f"reads{size}.", tmp=tmp, name=f"r{size}",
               extra_env={"SALESPULSE_PATHS__DIRECTORY": str(directory),   # the bench reads faster than a person
                          "SALESPULSE_WEB__READ_RATE_PER_S": "100000", "SALESPULSE_WEB__READ_BURST": "100000"}).start()
    try:
        w.wait_ready(timeout=900)          # ready: the partitions' state is loaded
        base = f"http://127.0.0.1:{w.web_port}"
        timed_get(f"{base}/kpis?window=month,total", token)     # warm the worker's imports and connection
        cold, size_bytes = [], 0
        for _ in range(args.samples):
            time.sleep(args.spacing)
            ms, size_bytes = timed_get(f"{base}/kpis?window=month,total", token)
            cold.append(ms)
        out["kpis"] = {**summary(cold), "answer_bytes": size_bytes, "slowest_ms": sorted(round(x) for x in cold)[-3:]}
        log(f"  /kpis samples (ms): {[round(x) for x in cold]}")
        rng = random.Random(args.seed)
        timed_get(f"{base}/customers/{ids[0]}", token)
        out["customers"] = summary([timed_get(f"{base}/customers/{rng.choice(ids)}", token)[0]
                                    for _ in range(args.customer_reads)])
    finally:
        w.stop()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,1000000", help="N (= M) values, comma-separated")
    ap.add_argument("--database", help="PostgreSQL URL to create fresh databases beside (default: SQLite files)")
    ap.add_argument("--samples", type=int, default=40)
    ap.add_argument("--customer-reads", type=int, default=500)
    ap.add_argument("--spacing", type=float, default=1.1, help="seconds between /kpis reads (the cache holds 1 s)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--broker", choices=["tansu", "kafka"], default="tansu")
    args = ap.parse_args()
    from pipeline.brokers import start_local

    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-reads-") as d:
        tmp = Path(d)
        broker = start_local(args.broker)
        try:
            results = {str(n): measure(n, args, tmp, broker) for n in sizes}
        finally:
            broker.stop()
    small, big = results[str(sizes[0])], results[str(sizes[-1])]
    out = {"database": "postgresql" if args.database else "sqlite", "sizes": results,
           "ratio_kpis_p50": round(big["kpis"]["p50_ms"] / small["kpis"]["p50_ms"], 2),
           "ratio_kpis_p99": round(big["kpis"]["p99_ms"] / small["kpis"]["p99_ms"], 2),
           "ratio_customers_p50": round(big["customers"]["p50_ms"] / small["customers"]["p50_ms"], 2),
           "ratio_customers_p99": round(big["customers"]["p99_ms"] / small["customers"]["p99_ms"], 2)}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
