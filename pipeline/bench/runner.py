"""The run: start the broker, preload, measure every phase in turn -> the assembled report."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pipeline import topics as T
from pipeline.bench.client import client_limit
from pipeline.bench.cpu import busy_cores, child_pids, cores_between, cpu_split, cpu_stat, steal_share, vm_hwm_kb
from pipeline.bench.figures import mib, rate, rounded, written_rate
from pipeline.bench.floor import framework_floor
from pipeline.bench.latency import LATENCY_TICK_S, latency_run
from pipeline.bench.preload import produce, simulated
from pipeline.bench.profile import start_profile, stop_profile
from pipeline.bench.report import assemble
from pipeline.bench.whole_pipeline import drain, settled_profiles
from pipeline.bench.worker import CONSUMED, Worker
from pipeline.bench.workers_mode import scaling
from pipeline.brokers import start_local as start_broker


@dataclass
class BenchConfig:
    broker: str = "tansu"                  # tansu | kafka
    events: int = 200_000
    workers_mode: bool = False
    skip_latency: bool = False
    customers: int = 2000                  # Simulator's default population
    seed: int = 7
    latency_seconds: float = 20.0
    latency_rate: float | None = None      # events/s; default half the measured pipeline rate
    latency_tick_s: float = LATENCY_TICK_S  # the latency phase sends the events due this often
    database: str | None = None            # default: SQLite in the run's temp dir
    skip_default_floor: bool = False
    profile_dir: Path | None = None        # py-spy the pipeline worker while it drains
    worker_env: dict = field(default_factory=dict)  # extra SALESPULSE_* for the workers (experiments)
    keep_workdir: bool = False             # logs and databases of the run; kept anyway when it fails
    # the features' own work on the same events, without broker or framework: (events, partitions=,
    # workdir=, progress=) -> the phase's figures; the composition side hands it in (pipeline names no
    # capability: agents/bench_features.py); None skips the phase
    features: Callable[..., dict] | None = None


def machine() -> dict:
    import platform

    import faust

    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "faust": faust.__version__,
            "loadavg_1m_at_start": rounded(load, 2)}


def run(cfg: BenchConfig, progress: Callable[[str], None] = lambda s: None) -> dict:
    """Start the broker, preload, measure everything; returns the assembled report."""
    from pipeline.settings import KafkaSettings, Settings

    tmp = Path(tempfile.mkdtemp(prefix="salespulse-bench-"))
    report: dict = {"broker": cfg.broker, "events": cfg.events, "customers_population": cfg.customers,
                    **({"worker_env": cfg.worker_env} if cfg.worker_env else {}),
                    "seed": cfg.seed, "machine": machine(), "workdir": str(tmp)}
    progress(f"starting {cfg.broker} broker")
    broker = start_broker(cfg.broker)
    try:
        prefix = f"bench{uuid.uuid4().hex[:6]}."
        settings = Settings(kafka=KafkaSettings(broker=broker.url, flavour=cfg.broker), topic_prefix=prefix)
        from pipeline.admin import ensure_topics

        ensure_topics(settings)
        progress(f"simulating {cfg.events:,} events (seed {cfg.seed}, {cfg.customers:,} customers)")
        events = simulated(cfg.events, cfg.seed, cfg.customers)
        per_topic: dict[str, int] = {}
        for spec, _, _ in events:
            per_topic[prefix + spec] = per_topic.get(prefix + spec, 0) + 1
        progress("preloading")
        seconds = asyncio.run(produce(broker.bootstrap, prefix, events))
        report["preload"] = {"topics": {k.removeprefix(prefix): v for k, v in per_topic.items()},
                             "partitions": settings.kafka.partitions, "seconds": round(seconds, 2),
                             "ev_per_s": rate(cfg.events, seconds),
                             "bytes_per_event": round(sum(len(v) for _, _, v in events) / len(events))}
        if cfg.features is not None:
            progress("0/5 the features alone (no broker, no framework)")
            report["features"] = cfg.features(events, partitions=settings.kafka.partitions, workdir=tmp,
                                              progress=progress)
            progress(f"    {report['features']['cpu_us_per_event']} us CPU per event")
        del events
        inputs = [prefix + s.name for s in T.INPUTS]

        progress("1/5 client limit (bare aiokafka + orjson)")
        report["client"] = asyncio.run(client_limit(broker.bootstrap, inputs, cfg.events))
        progress(f"    {report['client']['ev_per_s']} ev/s")
        progress("2/5 framework floor, our settings")
        loop = cfg.worker_env.get("SALESPULSE_WORKER__EVENT_LOOP", "uvloop")  # the workers' loop
        report["floor_ours"] = framework_floor(broker.url, cfg.broker, prefix, cfg.events, "ours", tmp,
                                               event_loop=loop)
        progress(f"    {report['floor_ours']['ev_per_s']} ev/s")
        if not cfg.skip_default_floor:
            progress("2/5 framework floor, faust defaults")
            report["floor_default"] = framework_floor(broker.url, cfg.broker, prefix, cfg.events, "default", tmp)
            progress(f"    {report['floor_default']['ev_per_s']} ev/s")

        progress("3/5 whole pipeline, one worker")
        db_path = tmp / "pipeline.db"
        db_url = cfg.database or f"sqlite+aiosqlite:///{db_path}"
        w = Worker(broker.url, cfg.broker, db_url, f"bench-{uuid.uuid4().hex[:6]}", prefix, tmp,
                   extra_env=cfg.worker_env).start()
        try:
            w.wait_ready()
            spy = start_profile(w.proc.pid, cfg.profile_dir) if cfg.profile_dir else None
            report["pipeline"] = drain([w], cfg.events, progress=progress)
            if spy is not None:
                report["profile"] = stop_profile(spy, cfg.profile_dir)
            report["pipeline"]["customer_profiles"] = settled_profiles(w)
            progress(f"    {report['pipeline']['ev_per_s']} ev/s consumed, "
                     f"{report['pipeline'].get('ev_per_s_to_written')} ev/s until all written")
            throughput = written_rate(report["pipeline"])
            if not cfg.skip_latency and throughput:
                lat_rate = cfg.latency_rate or throughput / 2
                progress(f"4/5 latency at {lat_rate:.0f} ev/s for {cfg.latency_seconds:.0f} s")
                broker_pid = getattr(broker, "pid", None)
                marks: dict[str, tuple] = {}

                def mark(name: str) -> None:
                    marks[name] = (cpu_split(w.proc.pid, broker_pid), time.monotonic(), cpu_stat())

                report["latency"] = asyncio.run(latency_run(
                    broker.bootstrap, prefix, db_path if cfg.database is None else None,
                    lat_rate, cfg.latency_seconds, cfg.seed, tick_s=cfg.latency_tick_s, mark=mark))
                if cfg.latency_rate:
                    report["latency"]["fixed_rate"] = True  # paired runs at one load; no target verdict
                # CPU over the steady rate's window only: the planning before it is ~1 s of this
                # harness's CPU, ~0.04 of the phase's 0.20-0.25 cores
                (split0, t0, stat0), (split1, t1, stat1) = marks["start"], marks["sent"]
                report["latency"]["machine_steal_share"] = steal_share(stat0, stat1)
                report["latency"]["machine_busy_cores"] = busy_cores(stat0, stat1)
                # the two cores at the steady rate: how much the broker and the harness take beside the worker
                report["latency"]["cpu_cores"] = cores_between(split0, split1, t1 - t0)
                if split0["helpers"] is not None and split1["helpers"] is not None:
                    # the worker's CPU (with its helpers) at a steady rate, beside the drain's
                    used = split1["worker"] + split1["helpers"] - split0["worker"] - split0["helpers"]
                    lat = report["latency"]
                    lat["worker_cpu_cores"] = round(used / (t1 - t0), 2)
                    lat["worker_cpu_us_per_event"] = round(used / max(1, lat["offered"]) * 1e6, 1)
            report["memory"] = {"worker_peak_rss_mb": mib(vm_hwm_kb(w.proc.pid)),
                                "helpers_peak_rss_mb": mib(sum(vm_hwm_kb(c) or 0 for c in child_pids(w.proc.pid))),
                                "floor_ours_peak_rss_mb": report["floor_ours"].get("peak_rss_mb")}
            progress("5/5 worker peak RSS " + str(report["memory"]["worker_peak_rss_mb"]) + " MiB")
            # everything on the input topics now (the latency phase's events, incidents raised from
            # feedback): what the two workers of the scaling phase will read from the start
            in_topics = int(w.metric(CONSUMED) or cfg.events)
        finally:
            w.stop()

        if cfg.workers_mode:
            report["scaling"] = scaling(broker.url, cfg.broker, prefix, cfg, tmp, report["pipeline"], progress,
                                        in_topics=in_topics)
    finally:
        broker.stop()
    if not cfg.keep_workdir:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        report.pop("workdir")
    return assemble(report)
