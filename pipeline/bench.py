"""Benchmark harness: N preloaded simulated events -> client limit, faust floor (ours and
faust's defaults), whole pipeline, end-to-end latency, worker memory -> one JSON object.

    salespulse bench --broker tansu --events 200000 [--workers-mode] [--skip-latency]

Every consumer reads the same preloaded topics (one unique prefix per run) with its own
consumer group, so the figures compare like with like. Throughputs are measured from the
moment the consumer(s) started reading to the moment the N-th event was counted: start-up
and group joins are excluded. The pure parts (percentiles, rates, assembly) are at the top.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from pipeline import topics as T
from pipeline.brokers import start_local as start_broker

TARGETS = {
    "pipeline_over_floor": 0.50,          # our work costs no more than the framework does
    "floor_ours_over_default": 1.50,      # what we configure raises faust's floor
    "latency_p99_ms": 250.0,              # at half the pipeline's throughput
    "two_workers_over_one": 1.60,
}


# --- pure figures ------------------------------------------------------------------------

def percentile(values: Iterable[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100); None for no values."""
    s = sorted(values)
    if not s:
        return None
    rank = max(1, -(-len(s) * p // 100))  # ceil(p/100 * n), at least the first value
    return s[int(min(rank, len(s))) - 1]


def latency_summary(ms: list[float], expected: int | None = None) -> dict:
    """p50 / p99 / max of latencies in milliseconds; `missing` when fewer arrived than sent."""
    out = {"n": len(ms), "p50_ms": _r(percentile(ms, 50)), "p99_ms": _r(percentile(ms, 99)),
           "max_ms": _r(max(ms) if ms else None)}
    if expected is not None:
        out["missing"] = max(0, expected - len(ms))
    return out


def rate(events: float, seconds: float) -> float | None:
    return round(events / seconds, 1) if seconds > 0 else None


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def window_rate(samples: list[tuple[float, float]], target: float) -> dict | None:
    """Throughput from (time, cumulative count) samples: from the first sample with a count
    above zero to the first at or above `target`. None if the target was never reached."""
    first = next((i for i, (_, c) in enumerate(samples) if c > 0), None)
    end = next(((t, c) for t, c in samples if c >= target), None)
    if first is None or end is None:
        return None
    start = samples[first]
    if end[0] <= start[0] and first > 0:  # all consumed between two scrapes: from the last one at zero
        start = samples[first - 1]
    if end[0] <= start[0]:
        return None
    return {"events": int(end[1] - start[1]), "seconds": round(end[0] - start[0], 3),
            "ev_per_s": rate(end[1] - start[1], end[0] - start[0])}


def _r(x: float | None, nd: int = 1) -> float | None:
    return None if x is None else round(x, nd)


def _target(value: float | None, target: float, higher_is_better: bool = True) -> dict:
    met = None if value is None else (value >= target if higher_is_better else value < target)
    return {"value": value, "target": (">= " if higher_is_better else "< ") + str(target), "met": met}


def written_rate(phase: dict | None) -> float | None:
    """A drain's rate until every event was written to SQL and acked (what the targets use),
    or until consumed where that was not measured."""
    phase = phase or {}
    return phase.get("ev_per_s_to_written") or phase.get("ev_per_s")


def assemble(run: dict) -> dict:
    """The figures measured in one run -> the report: figures, ratios and the targets met or not."""
    client = (run.get("client") or {}).get("ev_per_s")
    floor = (run.get("floor_ours") or {}).get("ev_per_s")
    floor_default = (run.get("floor_default") or {}).get("ev_per_s")
    pipeline = written_rate(run.get("pipeline"))
    ratios = {
        "pipeline_over_floor": ratio(pipeline, floor),
        "pipeline_over_client": ratio(pipeline, client),
        "floor_ours_over_default": ratio(floor, floor_default),
        "floor_over_client": ratio(floor, client),
    }
    # the same ratios from CPU per event (capacity on one core): less sensitive to other load
    cpu = {k: (run.get(k) or {}).get("cpu_us_per_event") for k in ("client", "floor_ours", "floor_default", "pipeline")}
    ratios["by_cpu"] = {
        "pipeline_over_floor": ratio(cpu["floor_ours"], cpu["pipeline"]),
        "pipeline_over_client": ratio(cpu["client"], cpu["pipeline"]),
        "floor_ours_over_default": ratio(cpu["floor_default"], cpu["floor_ours"]),
    }
    targets = {
        "pipeline_over_floor": _target(ratios["pipeline_over_floor"], TARGETS["pipeline_over_floor"]),
        "floor_ours_over_default": _target(ratios["floor_ours_over_default"], TARGETS["floor_ours_over_default"]),
    }
    lat = run.get("latency")
    if lat and not lat.get("fixed_rate"):  # the target is at half the pipeline's rate
        p99 = max((v["p99_ms"] for v in (lat.get("to_output_event"), lat.get("to_sql_row"))
                   if v and v.get("p99_ms") is not None), default=None)
        targets["latency_p99_ms"] = _target(p99, TARGETS["latency_p99_ms"], higher_is_better=False)
    scaling = run.get("scaling")
    if scaling:
        ratios["two_workers_over_one"] = ratio(scaling.get("two_workers_ev_per_s"), scaling.get("one_worker_ev_per_s"))
        targets["two_workers_over_one"] = _target(ratios["two_workers_over_one"], TARGETS["two_workers_over_one"])
    return {**run, "ratios": ratios, "targets": targets}


MACHINE_DRIFT = 0.20  # floors' CPU per event further apart than this: the machine was not the same
RSS_NOISE_MB = 20  # the worker's peak RSS in identical runs: 174.8-202.2 MiB (session 13)


def compare_customers(base: dict, big: dict) -> dict:
    """Two reports (default population, 10x population) -> throughput ratio and memory per profile.

    Both runs measure the no-op floor first; its CPU per event is fixed work, so when the two
    floors differ by more than MACHINE_DRIFT the machine itself ran slower in one of them (a
    host-level slowdown that steal time does not show: 31.7 against 56.2 us once, session 13)
    and the throughput ratio says nothing about the population: `machine_comparable` is false.
    Memory per profile is given only when the second run's peak RSS is higher by more than its
    run-to-run noise; the profiles 30,000 events add are lost in it (bench/bench_customers.py
    measures memory per profile directly)."""
    pb, pg = base["pipeline"], big["pipeline"]
    out = {"throughput_ratio": ratio(written_rate(pg), written_rate(pb)),
           "throughput_ratio_by_cpu": ratio(pb.get("cpu_us_per_event"), pg.get("cpu_us_per_event")),
           "throughput_target": ">= 0.8"}
    floors = [(r.get("floor_ours") or {}).get("cpu_us_per_event") for r in (base, big)]
    if all(floors):
        out["floor_cpu_us_per_event"] = {"base": floors[0], "this": floors[1]}
        out["machine_comparable"] = abs(floors[1] / floors[0] - 1) <= MACHINE_DRIFT
    rss_b, rss_g = base.get("memory", {}).get("worker_peak_rss_mb"), big.get("memory", {}).get("worker_peak_rss_mb")
    prof_b, prof_g = pb.get("customer_profiles"), pg.get("customer_profiles")
    if rss_b and rss_g and prof_b is not None and prof_g and prof_g != prof_b:
        if rss_g - rss_b >= RSS_NOISE_MB:
            out["bytes_per_profile"] = round((rss_g - rss_b) * 2**20 / (prof_g - prof_b))
        else:
            out["bytes_per_profile"] = None
            out["bytes_per_profile_note"] = (f"{prof_g - prof_b:+,} profiles moved the peak RSS by {rss_g - rss_b:+.1f} "
                                             f"MiB, within its run-to-run noise ({RSS_NOISE_MB} MiB); "
                                             "bench/bench_customers.py measures memory per profile")
    return out


# --- events ------------------------------------------------------------------------------

def simulated(n: int, seed: int, customers: int) -> list[tuple[str, bytes, bytes]]:
    """N simulated events as (input topic spec name, key, JSON body); seeded, deterministic."""
    from pipeline.emitter import partition_key
    from pipeline.simulate import Simulator

    sim = Simulator(seed=seed, customers=customers)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    step = timedelta(milliseconds=5)
    out = []
    for i in range(n):
        ev = sim.next(start + i * step)
        out.append((T.TOPIC_FOR_EVENT_TYPE[ev.event_type].name, partition_key(ev), ev.model_dump_json().encode()))
    return out


# Tansu answers ListOffsets wrongly for multi-record batches (pipeline.settings); every
# reader of the preload starts from the earliest offsets, which it answers right, so the
# preload batches normally on both brokers.
PRELOAD_PRODUCER = {"linger_ms": 5, "acks": "all", "max_batch_size": 256 * 1024, "max_request_size": 4 * 2**20}


async def produce(bootstrap: str, prefix: str, events: list[tuple[str, bytes, bytes]]) -> float:
    """Send every event, batched (never awaiting each delivery); returns the seconds it took."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **PRELOAD_PRODUCER)
    await producer.start()
    try:
        started = time.monotonic()
        pending = []
        for spec, key, value in events:
            pending.append(await producer.send(prefix + spec, value=value, key=key))
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await producer.flush()
        await asyncio.gather(*pending)
        return time.monotonic() - started
    finally:
        await producer.stop()


# --- 1. client limit ---------------------------------------------------------------------

async def client_limit(bootstrap: str, topics: list[str], n: int, timeout: float = 300) -> dict:
    """A bare aiokafka consumer (no group) reading every partition from the start and decoding
    each body with orjson, until N events."""
    import orjson
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest", fetch_max_wait_ms=10,
                                max_partition_fetch_bytes=4 * 2**20)
    await consumer.start()
    try:
        tps = []
        for t in topics:
            parts = consumer.partitions_for_topic(t) or await _partitions(consumer, t)
            tps += [TopicPartition(t, p) for p in parts]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        count, loads = 0, orjson.loads
        cpu0, t0 = time.process_time(), time.monotonic()
        deadline = t0 + timeout
        while count < n and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200, max_records=10_000)
            for records in batches.values():
                for rec in records:
                    loads(rec.value)
                count += len(records)
        seconds = time.monotonic() - t0
        cpu = time.process_time() - cpu0
        return {"events": count, "seconds": round(seconds, 3), "ev_per_s": rate(count, seconds),
                "cpu_us_per_event": _r(cpu / count * 1e6 if count else None)}
    finally:
        await consumer.stop()


async def _partitions(consumer, topic: str, timeout: float = 30) -> set[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await consumer._client.force_metadata_update()
        parts = consumer.partitions_for_topic(topic)
        if parts:
            return parts
        await asyncio.sleep(0.2)
    raise RuntimeError(f"topic {topic} has no partitions after {timeout:.0f}s")


# --- 2. framework floor (subprocess: python -m pipeline.bench floor ...) -----------------

def floor_main(argv: list[str]) -> None:
    """A worker with one no-op agent per input topic; writes its figures to --out at N events."""
    import argparse

    import faust

    ap = argparse.ArgumentParser(prog="python -m pipeline.bench floor")
    ap.add_argument("--broker", required=True)
    ap.add_argument("--flavour", required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--events", type=int, required=True)
    ap.add_argument("--mode", choices=["ours", "default"], required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--web-port", type=int, required=True)
    ap.add_argument("--event-loop", choices=["uvloop", "asyncio"], default="uvloop")
    args = ap.parse_args(argv)
    app_id = f"floor-{args.mode}-{uuid.uuid4().hex[:6]}"
    if args.mode == "ours":
        from pipeline.app import SalesPulseApp, faust_kwargs, set_fetch_waits
        from pipeline.settings import KafkaSettings, Settings, WebSettings, WorkerSettings
        from pipeline.worker import quiet_logging, use_event_loop

        s = Settings(kafka=KafkaSettings(broker=args.broker, flavour=args.flavour),
                     web=WebSettings(port=args.web_port), topic_prefix=args.prefix,
                     worker=WorkerSettings(app_id=app_id, data_dir=Path("data").resolve(), event_loop=args.event_loop))
        s.worker.data_dir.mkdir(parents=True, exist_ok=True)
        use_event_loop(s.worker.event_loop)  # as run_worker
        app = SalesPulseApp(app_id, **faust_kwargs(s))
        set_fetch_waits(app, s)
        quiet_logging("WARNING")
    else:  # faust's defaults: only what the broker needs to work at all, and a free web port
        extra = {"broker_session_timeout": 6.0} if args.flavour == "tansu" else {}
        app = faust.App(app_id, broker=args.broker, web_port=args.web_port, web_host="127.0.0.1", **extra)

    state = {"count": 0, "first": None, "cpu_first": 0.0, "marks": []}
    out = Path(args.out)
    every = max(1, args.events // 100)

    def tick() -> None:
        if state["first"] is None:
            state["first"], state["cpu_first"] = time.time(), _rusage()
        state["count"] += 1
        if state["count"] % every == 0:
            state["marks"].append(time.time())
        if state["count"] == args.events:
            out.write_text(json.dumps({"first": state["first"], "done": time.time(), "count": state["count"],
                                       "cpu_s": _rusage() - state["cpu_first"], "marks": state["marks"],
                                       "peak_rss_kb": vm_hwm_kb(os.getpid())}))

    for spec in T.INPUTS:
        topic = app.topic(args.prefix + spec.name, key_type=bytes, value_type=bytes,
                          key_serializer="raw", value_serializer="raw")

        async def noop(stream):
            async for event in stream.noack().events():  # as the ingest agents: manual acks
                tick()
                event.ack()

        app.agent(topic, name=f"floor-{spec.name}")(noop)
    if args.mode == "ours":
        worker = faust.Worker(app, loglevel="warning", logging_config=None, quiet=True,
                              redirect_stdouts=False, override_logging=False)
        quiet_logging("WARNING")
    else:
        worker = faust.Worker(app, loglevel="warning")
    worker.execute_from_commandline()


def _rusage() -> float:
    import resource

    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def cpu_seconds(pid: int, children: bool = False) -> float | None:
    """User + system CPU seconds a live process has used so far (/proc/PID/stat); `children`:
    with its helper processes' (the SQLite writer, the classifier), live or ended."""
    fields = _stat(pid)
    if fields is None:
        return None
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])  # children that ended (and were waited for)
        for child in child_pids(pid):
            f = _stat(child)
            ticks += int(f[11]) + int(f[12]) if f else 0
    return ticks / os.sysconf("SC_CLK_TCK")


def cpu_split(worker_pid: int, broker_pid: int | None) -> dict[str, float | None]:
    """CPU seconds so far of what shares the machine in a phase: the worker's own process, its
    helpers (SQLite writer, classifier), the broker (when we started it) and this harness."""
    own, with_helpers = cpu_seconds(worker_pid), cpu_seconds(worker_pid, children=True)
    return {"worker": own,
            "helpers": with_helpers - own if own is not None and with_helpers is not None else None,
            "broker": cpu_seconds(broker_pid) if broker_pid else None,
            "harness": cpu_seconds(os.getpid())}


def cores_between(before: dict[str, float | None], after: dict[str, float | None], seconds: float) -> dict:
    """Two cpu_split snapshots -> cores each used in between (None where either is unknown)."""
    return {k: round((after[k] - v) / seconds, 3) if v is not None and after.get(k) is not None and seconds > 0
            else None for k, v in before.items()}


def child_pids(pid: int) -> list[int]:
    """The live processes whose parent is `pid`."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            f = _stat(int(entry.name))
            if f is not None and f[1] == str(pid):
                out.append(int(entry.name))
    return out


def vm_hwm_kb(pid: int) -> int | None:
    """Peak resident set size (VmHWM) of a live process, in KiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _spawn(cmd: list[str], env: dict, cwd: Path, log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def _stop(proc: subprocess.Popen, grace: float = 15) -> None:
    from pipeline.brokers.base import terminate

    terminate(proc, grace=grace)


def framework_floor(broker_url: str, flavour: str, prefix: str, n: int, mode: str, tmp: Path,
                    timeout: float = 600, event_loop: str = "uvloop") -> dict:
    from pipeline.brokers.base import free_port

    work = tmp / f"floor-{mode}"
    work.mkdir(parents=True, exist_ok=True)
    out = work / "result.json"
    cmd = [sys.executable, "-m", "pipeline.bench", "floor", "--broker", broker_url, "--flavour", flavour,
           "--prefix", prefix, "--events", str(n), "--mode", mode, "--out", str(out),
           "--web-port", str(free_port()), "--event-loop", event_loop]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SALESPULSE_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    proc = _spawn(cmd, env, work, work / "floor.log")
    try:
        deadline = time.monotonic() + timeout
        while not out.exists():
            if proc.poll() is not None:
                raise RuntimeError(f"floor worker ({mode}) exited {proc.returncode}: {_tail(work / 'floor.log')}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"floor worker ({mode}) did not count {n} events in {timeout:.0f}s")
            time.sleep(0.2)
        time.sleep(0.1)
        r = json.loads(out.read_text())
    finally:
        _stop(proc)
    seconds = r["done"] - r["first"]
    marks = [r["first"], *r["marks"]]
    gaps = sorted((b - a for a, b in zip(marks, marks[1:])), reverse=True)
    return {"events": r["count"], "seconds": round(seconds, 3), "ev_per_s": rate(r["count"], seconds),
            "longest_gaps_s": [round(g, 3) for g in gaps[:3]],
            "cpu_us_per_event": _r(r["cpu_s"] / r["count"] * 1e6), "peak_rss_mb": _mb(r["peak_rss_kb"])}


def _tail(path: Path, n: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return ""


def _mb(kb: int | None) -> float | None:
    return None if kb is None else round(kb / 1024, 1)


# --- 3. the whole pipeline ---------------------------------------------------------------

@dataclass
class Worker:
    """A `salespulse worker` subprocess configured through SALESPULSE_* variables."""

    broker_url: str
    flavour: str
    database_url: str
    app_id: str
    prefix: str
    tmp: Path
    name: str = "w1"
    extra_env: dict = field(default_factory=dict)
    web_port: int = 0
    proc: subprocess.Popen | None = None

    def start(self) -> "Worker":
        from pipeline.brokers.base import free_port

        self.web_port = self.web_port or free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SALESPULSE_")}
        env.update({
            "SALESPULSE_KAFKA__BROKER": self.broker_url, "SALESPULSE_KAFKA__FLAVOUR": self.flavour,
            "SALESPULSE_DATABASE__URL": self.database_url, "SALESPULSE_WORKER__APP_ID": self.app_id,
            "SALESPULSE_WORKER__DATA_DIR": str(self.tmp / f"data-{self.name}"),
            "SALESPULSE_TOPIC_PREFIX": self.prefix, "SALESPULSE_WEB__PORT": str(self.web_port),
            "SALESPULSE_WEB__HOST": "127.0.0.1", "SALESPULSE_WORKER__LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
            **self.extra_env,
        })
        self.proc = _spawn([sys.executable, "-m", "pipeline.cli.main", "worker"], env, self.tmp,
                           self.tmp / f"worker-{self.name}.log")
        return self

    def get(self, path: str, timeout: float = 2) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.web_port}{path}", timeout=timeout) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, ""
        except OSError:
            return 0, ""

    def metric(self, name: str, **labels: str) -> float | None:
        # only that series: rendering the whole page twice a second cost the worker ~3.5% of its
        # event loop in a drain (py-spy, bench/README.md eighth round); Prometheus scrapes every 15 s
        status, text = self.get(f"/metrics?name[]={name}")
        return metric_value(text, name, **labels) if status == 200 else None

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker {self.name} exited {self.proc.returncode}: "
                                   f"{_tail(self.tmp / f'worker-{self.name}.log')}")
            if self.get("/health/ready")[0] == 200:
                return
            time.sleep(0.25)
        raise TimeoutError(f"worker {self.name} not ready after {timeout:.0f}s")

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc, grace=20)


def metric_value(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels` in a Prometheus text page."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


CONSUMED = "salespulse_events_consumed_total"
PENDING = "salespulse_writer_pending_events"


def cpu_stat() -> tuple[int, int, int] | None:
    """(all CPU time, stolen CPU time, idle and I/O-wait time) of the machine so far, in jiffies,
    summed over its CPUs; None off Linux."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return sum(fields[:8]), fields[7] if len(fields) > 7 else 0, fields[3] + fields[4]


def busy_cores(start: tuple[int, int, int] | None, end: tuple[int, int, int] | None,
               cpus: int | None = None) -> float | None:
    """How many of the machine's CPUs were busy (anything but idle and I/O wait, stolen time
    included) between two cpu_stat()s: one worker's drain that keeps ~2 of 2 cores busy leaves
    a second worker nothing to scale with."""
    cpus = cpus or os.cpu_count()
    if start is None or end is None or end[0] <= start[0] or not cpus:
        return None
    return _r((1 - (end[2] - start[2]) / (end[0] - start[0])) * cpus, 2)


def steal_share(start: tuple[int, ...] | None, end: tuple[int, ...] | None) -> float | None:
    """Share of the machine's CPU time the hypervisor gave to others between two cpu_stat()s: on a
    shared VM the same code measures slower when this is high (compare runs with similar shares)."""
    if start is None or end is None or end[0] <= start[0]:
        return None
    return _r((end[1] - start[1]) / (end[0] - start[0]), 3)


def drain(workers: list[Worker], n: int, timeout: float = 900, interval: float = 0.5,
          progress: Callable[[str], None] | None = None, stall_s: float | None = None) -> dict:
    """Scrape every worker until their consumed counters sum to N; the rate is taken from
    the first scrape at which *every* worker has consumed something (after the group settled),
    and so is the workers' CPU per event (robust to other load on a shared machine). `stall_s`:
    N is an estimate; a count that has not moved for that long is taken as everything."""
    samples: list[tuple[float, float]] = []
    deadline = time.monotonic() + timeout
    cpu_start: float | None = None
    cpu_end: float | None = None
    stat_start = stat_end = None
    last_note = 0.0
    last_total, last_change = -1.0, time.monotonic()
    while time.monotonic() < deadline:
        values = [w.metric(CONSUMED) for w in workers]
        now = time.monotonic()
        for w in workers:
            if w.proc.poll() is not None:
                raise RuntimeError(f"worker {w.name} exited {w.proc.returncode}: {_tail(w.tmp / f'worker-{w.name}.log')}")
        if None not in values:
            total = sum(values)
            if cpu_start is None and all(v > 0 for v in values):
                cpu_start = sum(cpu_seconds(w.proc.pid, children=True) or 0.0 for w in workers)
                stat_start = cpu_stat()
            samples.append((now, total if cpu_start is not None else 0.0))
            if progress and now - last_note > 5:
                progress(f"  consumed {int(total):,} / {n:,}")
                last_note = now
            if total != last_total:
                last_total, last_change = total, now
            elif stall_s and total and now - last_change > stall_s:
                n = int(total)  # window_rate ends at the first sample that reached it, not now
            if total >= n:
                cpu_end = sum(cpu_seconds(w.proc.pid, children=True) or 0.0 for w in workers)
                stat_end = cpu_stat()
                break
        time.sleep(interval)
    consumed_at = time.monotonic()
    out = window_rate(samples, n) or {"events": 0, "seconds": None, "ev_per_s": None, "timed_out": True}
    if out.get("events") and cpu_start is not None and cpu_end is not None:
        out["cpu_us_per_event"] = _r((cpu_end - cpu_start) / out["events"] * 1e6)
        out["machine_steal_share"] = steal_share(stat_start, stat_end)
        out["machine_busy_cores"] = busy_cores(stat_start, stat_end)
    # consumed is not done: the writer may still hold rows and acks (up to its back-pressure bound)
    while out.get("seconds") and time.monotonic() < deadline:
        pending = [w.metric(PENDING) for w in workers]
        if None not in pending and not any(pending):
            out["written_after_s"] = _r(time.monotonic() - consumed_at, 2)
            out["ev_per_s_to_written"] = rate(out["events"], out["seconds"] + out["written_after_s"])
            break
        time.sleep(0.1)
    return out


# --- 4. end-to-end latency ---------------------------------------------------------------

PLACEHOLDER_AT = datetime(2000, 1, 1, 0, 0, 0, 123456, tzinfo=timezone.utc)
_PLACEHOLDER = b'"occurred_at":"2000-01-01T00:00:00.123456Z"'


def stamp_occurred_at(body: bytes, now: datetime) -> bytes:
    """A body serialised with occurred_at = PLACEHOLDER_AT, with `now` (UTC) there instead."""
    if body.count(_PLACEHOLDER) != 1:
        raise ValueError("body without exactly one placeholder occurred_at")
    return body.replace(_PLACEHOLDER, b'"occurred_at":"' + now.strftime("%Y-%m-%dT%H:%M:%S.%fZ").encode() + b'"', 1)


LATENCY_TICK_S = 0.01


async def latency_run(bootstrap: str, prefix: str, db_path: Path | None, rate_per_s: float, seconds: float,
                      seed: int, settle_s: float = 15.0, tick_s: float = LATENCY_TICK_S,
                      mark: Callable[[str], None] | None = None) -> dict:
    """Feedback and order events with occurred_at = now at a steady rate; latency to the
    classified output event (consumed here) and to the row in the events table (polled).

    `mark("start")` is called when the clock starts and `mark("sent")` when the last event has
    gone out: the steady rate's window, without the planning before it (0.95 s of this harness's
    CPU for 29,000 events) and the settling after it.

    The events due are sent every `tick_s` (each stamped as it goes): at 500 events/s a 2 ms tick
    made ~500 produce requests a second, and the harness (0.40 cores) and the broker then left the
    worker so little of the two cores that backlogs formed (bench/README.md, ninth round)."""
    import orjson
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    from pipeline.emitter import partition_key
    from pipeline.simulate import Simulator

    # Built before the clock starts (the harness shares the 2 cores with broker and worker): each
    # body carries a placeholder occurred_at, replaced by the send time as it goes out.
    sim = Simulator(seed=seed + 1)
    n = int(rate_per_s * seconds)
    planned: list[tuple[str, bytes, bytes, str, bool]] = []
    while len(planned) < n:
        ev = sim.next(PLACEHOLDER_AT)
        if ev.event_type not in ("feedback", "order"):
            continue
        body = ev.model_copy(update={"occurred_at": PLACEHOLDER_AT}).model_dump_json().encode()
        planned.append((prefix + T.TOPIC_FOR_EVENT_TYPE[ev.event_type].name, partition_key(ev), body,
                        str(ev.event_id), ev.event_type == "feedback"))
    sent: dict[str, float] = {}
    feedback_ids: set[str] = set()
    out_ms: list[float] = []
    out_classified_ms: list[float] = []
    sql_seen: dict[str, float] = {}
    taken: dict[str, float] = {}  # event id -> when the worker took it (events.received_at)
    acked: dict[str, float] = {}  # event id -> when the broker confirmed it to this harness
    stop = threading.Event()

    poller = None
    if db_path is not None:
        poller = threading.Thread(target=_poll_sql, args=(db_path, sql_seen, stop), kwargs={"taken": taken},
                                  daemon=True)
        poller.start()

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=5)
    await consumer.start()
    topic = prefix + T.FEEDBACK_CLASSIFIED.name
    tps = [TopicPartition(topic, p) for p in (consumer.partitions_for_topic(topic) or await _partitions(consumer, topic))]
    consumer.assign(tps)
    await consumer.seek_to_end(*tps)
    for tp in tps:
        await consumer.position(tp)

    async def consume() -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=50)
            now = time.time()
            for records in batches.values():
                for rec in records:
                    body = orjson.loads(rec.value)
                    at = sent.get(body.get("event_id"))
                    if at is not None:
                        out_ms.append((now - at) * 1000)
                        ca = body.get("classified_at")
                        if ca:
                            out_classified_ms.append((datetime.fromisoformat(ca).timestamp() - at) * 1000)

    reader = asyncio.create_task(consume())
    # normal batching: one record per batch (as once here on Tansu) makes each produce request carry
    # one record per partition, one request at a time: measured, the harness itself then queued
    # the events ~100 ms (p50) before the worker could see them
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=1, acks="all")
    await producer.start()
    try:
        if mark is not None:
            mark("start")
        start = time.monotonic()
        i = 0
        while i < n:
            due = min(n, int((time.monotonic() - start) * rate_per_s) + 1)
            while i < due:
                topic_name, key, body, eid, is_feedback = planned[i]
                now = datetime.now(timezone.utc)
                sent[eid] = now.timestamp()
                if is_feedback:
                    feedback_ids.add(eid)
                delivery = await producer.send(topic_name, value=stamp_occurred_at(body, now), key=key)
                delivery.add_done_callback(lambda f, eid=eid: acked.setdefault(eid, time.time()))
                i += 1
            await asyncio.sleep(tick_s)
        produced_s = time.monotonic() - start
        if mark is not None:
            mark("sent")
        await producer.flush()
        deadline = time.monotonic() + settle_s
        while time.monotonic() < deadline and (len(out_ms) < len(feedback_ids)
                                               or (poller and len(set(sent) & set(sql_seen)) < len(sent))):
            await asyncio.sleep(0.2)
    finally:
        stop.set()
        reader.cancel()
        await producer.stop()
        await consumer.stop()
    result = {"rate_ev_per_s": round(rate_per_s, 1), "tick_ms": round(tick_s * 1000, 1), "offered": len(sent),
              "seconds": round(produced_s, 1),
              "to_output_event": latency_summary(out_ms, expected=len(feedback_ids)),
              "to_output_event_classified_at": latency_summary(out_classified_ms)}
    if poller is not None:
        poller.join(timeout=2)
        sql_ms = [(sql_seen[e] - at) * 1000 for e, at in sent.items() if e in sql_seen]
        result["to_sql_row"] = latency_summary(sql_ms, expected=len(sent))
        # a constant delay or a growing queue? the median of the first and the last 2 s sent
        t0 = min(sent.values(), default=0.0)
        t1 = max(sent.values(), default=0.0)
        first = [(sql_seen[e] - at) * 1000 for e, at in sent.items() if e in sql_seen and at - t0 <= 2]
        last = [(sql_seen[e] - at) * 1000 for e, at in sent.items() if e in sql_seen and t1 - at <= 2]
        result["to_sql_row"]["p50_first_2s_ms"] = _r(percentile(first, 50))
        result["to_sql_row"]["p50_last_2s_ms"] = _r(percentile(last, 50))
        # where the time goes: before the worker's handlers take the event (the harness's send,
        # the broker, the worker's fetch and faust's queues) and from there to the visible row
        result["to_broker_acked"] = latency_summary([(acked[e] - at) * 1000 for e, at in sent.items() if e in acked])
        result["to_worker_taken"] = latency_summary([(taken[e] - at) * 1000 for e, at in sent.items() if e in taken])
        result["taken_to_sql_row"] = latency_summary([(sql_seen[e] - taken[e]) * 1000 for e in sent
                                                      if e in taken and e in sql_seen])
    return result


def _poll_sql(db_path: Path, seen: dict[str, float], stop: threading.Event, every_s: float = 0.02,
              taken: dict[str, float] | None = None) -> None:
    """New rows of the events table every 20 ms (by rowid), noting when each id became visible
    and, in `taken`, when the worker took the event (its received_at, as a POSIX time)."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=1)
    try:
        last = conn.execute("SELECT coalesce(max(rowid), 0) FROM events").fetchone()[0]
        while not stop.is_set():
            try:
                rows = conn.execute("SELECT rowid, event_id, received_at FROM events WHERE rowid > ?",
                                    (last,)).fetchall()
            except sqlite3.OperationalError:  # locked by the writer: next tick
                rows = []
            now = time.time()
            for rowid, eid, received_at in rows:
                eid = str(eid)
                seen.setdefault(eid, now)
                if taken is not None and received_at:
                    taken.setdefault(eid, _posix(received_at))
                last = max(last, rowid)
            stop.wait(every_s)
    finally:
        conn.close()


def _posix(stored: str) -> float:
    """A timestamp as SQLAlchemy stores it in SQLite (ISO text, UTC, offset or none) -> POSIX time."""
    at = datetime.fromisoformat(stored)
    return (at if at.tzinfo else at.replace(tzinfo=timezone.utc)).timestamp()


# --- profile (py-spy, optional) ----------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
OUR_CODE = ("(agents/", "(pipeline/", "(schemas/")  # py-spy shortens paths to the package part; not faust/agents/
ENTRY = ("(pipeline/cli/", "(pipeline/worker.py")  # on every stack of the worker: not informative
# waiting, not working: --nonblocking sampling cannot tell these from CPU use
IDLE = ("EpollSelector.select (selectors.py", "_connection_worker_thread (aiosqlite/core.py:59)",
        "wait (threading.py", "get (queue.py")


def start_profile(pid: int, out_dir: Path) -> subprocess.Popen:
    import shutil

    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    out_dir.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([spy, "record", "--pid", str(pid), "--rate", "100", "--nonblocking", "--format", "raw",
                             "--output", str(out_dir / "pipeline.collapsed")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)


def stop_profile(spy: subprocess.Popen, out_dir: Path, top: int = 15) -> dict:
    spy.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C
    try:
        spy.wait(timeout=30)
    except subprocess.TimeoutExpired:
        spy.kill()
        spy.wait()
    path = out_dir / "pipeline.collapsed"
    if not path.exists():
        return {"error": "py-spy wrote no profile"}
    return {"file": str(path), **profile_summary(path.read_text().splitlines(), top)}


def profile_summary(lines: Iterable[str], top: int = 15, ours: tuple[str, ...] = OUR_CODE) -> dict:
    """Collapsed stacks ("frame;frame;... count") -> the hottest frames by self samples and
    our own functions (agents/, pipeline/, schemas/) by inclusive samples, as % of the
    samples that were not waiting (IDLE leaves are counted apart)."""
    self_n: dict[str, int] = {}
    incl: dict[str, int] = {}
    total = idle = 0
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        if any(frames[-1].startswith(i) for i in IDLE):
            idle += n
            continue
        total += n
        self_n[frames[-1]] = self_n.get(frames[-1], 0) + n
        for f in set(frames):
            if any(part in f for part in ours) and not any(e in f for e in ENTRY):
                incl[f] = incl.get(f, 0) + n

    def pct(d: dict[str, int]) -> list[list]:
        return [[f, round(100 * c / total, 1)] for f, c in sorted(d.items(), key=lambda kv: -kv[1])[:top]]

    return {"samples": total, "idle_samples_excluded": idle, "top_self_pct": pct(self_n) if total else [], "our_code_inclusive_pct": pct(incl) if total else []}


# --- the run -----------------------------------------------------------------------------

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


def machine() -> dict:
    import platform

    import faust

    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "faust": faust.__version__,
            "loadavg_1m_at_start": _r(load, 2)}


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
            report["pipeline"]["customer_profiles"] = _settled_profiles(w)
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
                # CPU over the steady rate's window only (session 13: the planning before it had
                # counted ~1 s of this harness's CPU as the phase's, ~0.04 of its 0.20-0.25 cores)
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
            report["memory"] = {"worker_peak_rss_mb": _mb(vm_hwm_kb(w.proc.pid)),
                                "helpers_peak_rss_mb": _mb(sum(vm_hwm_kb(c) or 0 for c in child_pids(w.proc.pid))),
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


def _settled_profiles(w: Worker, timeout: float = 20, tick: float = 16) -> int | None:
    """Profiles held by the worker (its customers gauge, refreshed by a timer every 15 s). The
    gauge read right after the drain may be from a tick in the middle of it: wait for the next
    tick (a changed value, or `tick` seconds without change)."""
    deadline = time.monotonic() + timeout
    v = None
    while time.monotonic() < deadline:
        v = w.metric("salespulse_table_keys", table="customers")
        if v:
            break
        time.sleep(1)
    if v:
        first, settle = v, time.monotonic() + tick
        while time.monotonic() < settle:
            time.sleep(1)
            v = w.metric("salespulse_table_keys", table="customers") or v
            if v != first:
                break
    return int(v) if v is not None else None


def scaling(broker_url: str, flavour: str, prefix: str, cfg: BenchConfig, tmp: Path, one_worker: dict,
            progress: Callable[[str], None], in_topics: int | None = None) -> dict:
    """Two workers in a fresh consumer group (and database) on the same preloaded topics,
    against the one-worker pipeline run (same topics, same settings). The second worker
    starts once the first is ready (they share the SQLite file and its migration), and the
    rate is taken from the moment both are consuming."""
    progress("scaling: 2 workers")
    run_dir = tmp / "scale-2"
    run_dir.mkdir()
    db_url = cfg.database or f"sqlite+aiosqlite:///{run_dir}/pipeline.db"
    app_id = f"scale2-{uuid.uuid4().hex[:6]}"
    workers = [Worker(broker_url, flavour, db_url, app_id, prefix, run_dir, name=f"w{i + 1}", extra_env=cfg.worker_env)
               for i in range(2)]
    try:
        for w in workers:
            w.start().wait_ready()
        # until everything on the topics is consumed: "written" waits for nothing pending, and with
        # the latency phase's events still to read, it used to wait for those too (two workers'
        # rate until written: 1,325-1,772 ev/s against 3,620 without them, tenth round)
        two = drain(workers, in_topics or cfg.events, progress=progress, stall_s=10)
        two["peak_rss_mb"] = [_mb(vm_hwm_kb(w.proc.pid)) for w in workers]
    finally:
        for w in workers:
            w.stop()
    progress(f"    {two['ev_per_s']} ev/s")
    return {"one_worker": one_worker, "two_workers": two,
            "one_worker_ev_per_s": written_rate(one_worker), "two_workers_ev_per_s": written_rate(two)}


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "floor":
        floor_main(sys.argv[2:])
    else:
        sys.exit("usage: python -m pipeline.bench floor ... (the harness itself is `salespulse bench`)")
