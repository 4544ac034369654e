"""`salespulse demo`: embedded broker + SQLite + one worker + simulated channels, live progress."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from datetime import datetime, timezone
from pathlib import Path

import click

from pipeline.brokers import KINDS
from pipeline.errors import SalesPulseError

# Tansu 0.6's memory storage keeps every batch (no retention) and lists all of a partition's
# batches for each fetch that returns data, so its CPU grows with how long a run has gone on
# (measured at 200 events/s: 0.23 cores after 20 s, 0.90 after 4 minutes). Past this share of a
# core, averaged over NOTE_WINDOW_S, the demo says so once.
TANSU_NOTE_CORES = 0.5
NOTE_WINDOW_S = 20.0


def _scrape(url: str) -> dict[tuple[str, tuple], float]:
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(url, timeout=2) as r:
        body = r.read().decode()
    out: dict[tuple[str, tuple], float] = {}
    for fam in text_string_to_metric_families(body):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _sum(m: dict, name: str, **labels) -> float:
    return sum(v for (n, lab), v in m.items() if n == name and all((k, val) in lab for k, val in labels.items()))


def _by(m: dict, name: str, label: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for (n, lab), v in m.items():
        if n == name:
            key = dict(lab).get(label, "")
            out[key] = out.get(key, 0.0) + v
    return out


class BrokerLoad:
    """The broker process's cores over about the last `window_s` (from /proc), for the demo's note."""

    def __init__(self, pid: int | None, window_s: float = NOTE_WINDOW_S) -> None:
        self.pid, self.window_s = pid, window_s
        self.marks: deque[tuple[float, float]] = deque()

    def cores(self, now: float) -> float | None:
        """None until a whole window has been seen (or when the process is gone)."""
        from pipeline.bench import cpu_seconds

        used = cpu_seconds(self.pid) if self.pid else None
        if used is None:
            return None
        self.marks.append((now, used))
        while len(self.marks) > 1 and now - self.marks[1][0] >= self.window_s:
            self.marks.popleft()  # keep the newest mark at least a window old
        t0, used0 = self.marks[0]
        return (used - used0) / (now - t0) if now - t0 >= self.window_s / 2 else None


def tansu_note(cores: float) -> str:
    return (f"note: the embedded broker now takes {cores:.2f} cores and will take more: Tansu 0.6 keeps every "
            "batch in memory and lists all of a partition's batches on each fetch, so it slows down as the "
            "run goes on. For a long run: salespulse demo --broker kafka")


@click.command()
@click.option("--rate", type=float, default=200.0, show_default=True, help="simulated events per second")
@click.option("--web-port", type=int, default=6066, show_default=True, help="worker /metrics and API port")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("var/demo"), show_default=True)
@click.option("--seconds", type=float, default=0, help="stop by itself after N seconds (0 = until Ctrl-C)")
@click.option("--invalid-every", type=int, default=500, show_default=True, help="one malformed message every N events")
@click.option("--broker", "kind", type=click.Choice(KINDS), default="tansu", show_default=True,
              help="tansu: embedded, in memory, slows down after minutes; kafka: Apache Kafka from kafka/ "
                   "(Java 17+; its jars come from Maven Central on first use), for long runs")
def demo(rate, web_port, state_dir, seconds, invalid_every, kind) -> None:
    """Run the whole product locally until Ctrl-C: a broker, SQLite, worker, channels."""
    from pipeline.brokers import local_broker
    from pipeline.brokers.base import port_open
    from pipeline.emitter import Emitter
    from pipeline.simulate import Simulator

    if port_open("127.0.0.1", web_port):
        raise SalesPulseError(f"port {web_port} is already in use; pass --web-port")
    state_dir.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if kind == "kafka":
        click.echo("starting Apache Kafka (the first run fetches its jars from Maven Central) ...")
    broker = local_broker(kind).start()
    click.echo(f"broker   {kind} at {broker.bootstrap}, pid {broker.pid}")
    db = state_dir / "salespulse.db"
    env = dict(os.environ,
               SALESPULSE_KAFKA__BROKER=broker.url, SALESPULSE_KAFKA__FLAVOUR=kind,
               SALESPULSE_DATABASE__URL=f"sqlite+aiosqlite:///{db.resolve()}",
               SALESPULSE_WEB__PORT=str(web_port), SALESPULSE_WEB__HOST="127.0.0.1",
               SALESPULSE_WORKER__DATA_DIR=str((state_dir / "worker").resolve()),
               SALESPULSE_WORKER__APP_ID=f"salespulse-demo-{int(time.time())}")
    log = open(state_dir / "worker.log", "ab")
    worker = subprocess.Popen([sys.executable, "-m", "agents.cli.main", "worker"], env=env,
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    click.echo(f"database {db}")
    click.echo(f"worker   pid {worker.pid}, log {state_dir / 'worker.log'}")
    click.echo(f"metrics  http://127.0.0.1:{web_port}/metrics   health http://127.0.0.1:{web_port}/health/ready")
    sent = [0]

    def channels() -> None:
        sim = Simulator(seed=int(time.time()))
        with Emitter(broker.bootstrap) as em:
            started = time.monotonic()
            while not stop.is_set():
                ahead = sent[0] / rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(min(ahead, 0.2))
                    continue
                em.emit(sim.next(datetime.now(timezone.utc)))
                sent[0] += 1
                if invalid_every and sent[0] % invalid_every == 0:
                    em.emit_raw("feedback.raw", b'{"event_type": "feedback", "text": 42}')

    feeder = threading.Thread(target=channels, name="channels", daemon=True)
    feeder.start()
    started = time.monotonic()
    prev: dict = {}
    prev_t = time.monotonic()
    load = BrokerLoad(broker.pid) if kind == "tansu" else None
    try:
        while not stop.is_set():
            if stop.wait(2.0):
                break
            if worker.poll() is not None:
                raise SalesPulseError(f"the worker exited with code {worker.returncode}; see {state_dir / 'worker.log'}")
            try:
                m = _scrape(f"http://127.0.0.1:{web_port}/metrics")
            except OSError:
                click.echo(f"[{time.monotonic() - started:5.0f}s] waiting for the worker... sent {sent[0]}")
                continue
            t = time.monotonic()
            now = _by(m, "salespulse_events_processed_total", "topic")
            before = _by(prev, "salespulse_events_processed_total", "topic")
            rates = "  ".join(f"{k} {(v - before.get(k, 0)) / (t - prev_t):6.1f}/s" for k, v in sorted(now.items()))
            dead = _sum(m, "salespulse_events_invalid_total")
            total = sum(now.values())
            extra = []
            for name, label in (("salespulse_feedback_classified_total", "feedback classified"),
                                ("salespulse_escalations_total", "escalations"),
                                ("salespulse_followups_total", "follow-ups")):
                v = _sum(m, name)
                if v:
                    extra.append(f"{label} {v:.0f}")
            click.echo(f"[{t - started:5.0f}s] sent {sent[0]}  processed {total:.0f}  dead letters {dead:.0f}  "
                       + ("  ".join(extra) + "  " if extra else "") + f"| {rates}")
            prev, prev_t = m, t
            cores = load.cores(t) if load else None
            if cores is not None and cores >= TANSU_NOTE_CORES:
                click.echo(tansu_note(cores))
                load = None  # once
            if seconds and t - started >= seconds:
                break
    except KeyboardInterrupt:
        pass
    finally:
        click.echo("stopping: channels, worker, broker ...")
        stop.set()
        feeder.join(timeout=10)
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
        log.close()
        broker.stop()
        click.echo("stopped cleanly")


commands = [demo]
