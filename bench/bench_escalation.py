"""Incident entering Kafka -> first webhook delivered: latency percentiles at a steady rate.

    python bench/bench_escalation.py --broker tansu --rate 200 --seconds 20

Starts a broker, one worker (SQLite) with a webhook receiver on loopback, sends distinct
high-severity incidents at --rate per second, and prints one JSON object with p50/p90/p99/max
of (webhook received - occurred_at) for each incident's first page.
"""

from __future__ import annotations

import argparse
import os
import json
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from pipeline.emitter import Emitter  # noqa: E402
from schemas.events import Channel, IncidentEvent, Severity  # noqa: E402
from tests.support.receivers import WebhookReceiver  # noqa: E402
from tests.support.services import WorkerProcess, start_broker  # noqa: E402


def percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stage_means(exposition: str) -> dict[str, float]:
    """The worker's own view: occurred_at -> processed (incidents topic), and one webhook POST, as means."""
    from prometheus_client.parser import text_string_to_metric_families

    sums: dict[str, float] = {}
    for fam in text_string_to_metric_families(exposition):
        for smp in fam.samples:
            topic, channel = smp.labels.get("topic", ""), smp.labels.get("channel", "")
            if fam.name == "salespulse_event_latency_seconds" and topic.endswith("incidents.raw"):
                sums[f"consumed_{smp.name.rsplit('_', 1)[-1]}"] = smp.value
            if fam.name == "salespulse_notification_latency_seconds" and channel == "webhook":
                sums[f"webhook_{smp.name.rsplit('_', 1)[-1]}"] = smp.value
    out = {}
    for stage in ("consumed", "webhook"):
        if sums.get(f"{stage}_count"):
            out[stage] = round(sums[f"{stage}_sum"] / sums[f"{stage}_count"] * 1000, 1)
    return out


class ReceiverProcess:
    """The webhook receiver in its own process, so that its threads do not share a GIL with the
    emitter (whose pacing would otherwise delay the receive timestamps we measure)."""

    def __enter__(self) -> "ReceiverProcess":
        import multiprocessing as mp

        ctx = mp.get_context("fork")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=self._serve, args=(child,), daemon=True)
        self._proc.start()
        self.url = self._conn.recv()
        return self

    @staticmethod
    def _serve(conn) -> None:
        with WebhookReceiver() as hooks:
            conn.send(hooks.url)
            while conn.recv() == "dump":
                conn.send([(at, body["incident_key"]) for at, _, body in list(hooks.received)])

    def received(self) -> list[tuple[float, str]]:
        self._conn.send("dump")
        return self._conn.recv()

    def __exit__(self, *exc) -> None:
        self._conn.send("stop")
        self._proc.join(timeout=5)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--broker", choices=["tansu", "kafka"], default="tansu")
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--warmup", type=float, default=5.0,
                    help="seconds of incidents sent first and left out of the figures (JIT of a fresh JVM broker, caches)")
    ap.add_argument("--worker-env", action="append", default=[], metavar="KEY=VALUE",
                    help="a setting for the worker, e.g. SALESPULSE_KAFKA__FETCH_MAX_WAIT_MS=50")
    ap.add_argument("--profile", metavar="FILE", help="py-spy the worker while incidents flow (raw folded stacks)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sp-bench-esc-"))
    broker = start_broker(args.broker)
    try:
        with ReceiverProcess() as hooks:
            directory = yaml.safe_load((ROOT / "config" / "directory.yaml").read_text())
            for p in directory["people"]:
                p["webhook"] = f"{hooks.url}/p/{p['id']}"
            (tmp / "directory.yaml").write_text(yaml.safe_dump(directory))
            run = uuid.uuid4().hex[:6]
            w = WorkerProcess(broker_url=broker.url, flavour=broker.kind,
                              database_url=f"sqlite+aiosqlite:///{tmp}/db.sqlite", app_id=f"bench-{run}",
                              topic_prefix=f"b{run}.", tmp=tmp,
                              extra_env={"SALESPULSE_PATHS__DIRECTORY": str(tmp / "directory.yaml"),
                                         "SALESPULSE_WORKER__LOG_LEVEL": "WARNING",
                                         **dict(kv.split("=", 1) for kv in args.worker_env)}).start()
            try:
                w.wait_ready()
                spy = None
                if args.profile:
                    import subprocess

                    spy = subprocess.Popen(["py-spy", "record", "--format", "raw", "-o", args.profile, "--pid",
                                            str(w.proc.pid), "-d", str(int(args.seconds))],
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                sent: dict[str, float] = {}
                n = int(args.rate * args.seconds)
                warm = int(args.rate * args.warmup)
                with Emitter(broker.bootstrap, topic_prefix=f"b{run}.", linger_ms=0) as em:
                    start = time.monotonic()
                    for i in range(-warm, n):
                        if i == 0:
                            cpu0 = cpu_seconds(w.proc.pid)
                        delay = start + (i + warm) / args.rate - time.monotonic()
                        if delay > 0:
                            time.sleep(delay)
                        key = f"bench-{run}-{i}"
                        ev = IncidentEvent(occurred_at=datetime.now(timezone.utc), channel=Channel.web,
                                           customer_id=f"c{i}", incident_key=key, severity=Severity.high,
                                           category="delivery", title="late parcel")  # no region or sku: no storm grouping
                        if i >= 0:
                            sent[key] = ev.occurred_at.timestamp()
                        em.emit(ev)
                deadline = time.monotonic() + 60
                first: dict[str, float] = {}
                while time.monotonic() < deadline and len(first) < n:
                    for at, k in hooks.received():
                        if k in sent and (k not in first or at < first[k]):
                            first[k] = at
                    time.sleep(0.2)
                if spy is not None:
                    spy.wait(timeout=60)
                lat = [(first[k] - sent[k]) * 1000 for k in first]
                breakdown = stage_means(w.metrics())
                cpu_ms = (cpu_seconds(w.proc.pid) - cpu0) * 1000 / max(1, len(first))
                print(json.dumps({
                    "broker": args.broker, "rate": args.rate, "incidents": n, "first_pages": len(first),
                    "latency_ms": {"p50": round(percentile(lat, 50), 1), "p90": round(percentile(lat, 90), 1),
                                   "p99": round(percentile(lat, 99), 1), "max": round(max(lat), 1),
                                   "mean": round(statistics.fmean(lat), 1)},
                    "worker_means_ms": breakdown, "worker_cpu_ms_per_incident": round(cpu_ms, 2),
                }))
            finally:
                w.stop()
    finally:
        broker.stop()


if __name__ == "__main__":
    main()
