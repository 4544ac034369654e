"""`salespulse demo`: embedded broker + SQLite + one worker + simulated channels, live progress."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import click

from pipeline.errors import SalesPulseError


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


@click.command()
@click.option("--rate", type=float, default=200.0, show_default=True, help="simulated events per second")
@click.option("--web-port", type=int, default=6066, show_default=True, help="worker /metrics and API port")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("var/demo"), show_default=True)
@click.option("--seconds", type=float, default=0, help="stop by itself after N seconds (0 = until Ctrl-C)")
@click.option("--invalid-every", type=int, default=500, show_default=True, help="one malformed message every N events")
def demo(rate, web_port, state_dir, seconds, invalid_every) -> None:
    """Run the whole product locally until Ctrl-C: Tansu broker, SQLite, worker, channels."""
    from pipeline.brokers.base import port_open
    from pipeline.brokers.tansu import TansuBroker
    from pipeline.emitter import Emitter
    from pipeline.simulate import Simulator

    if port_open("127.0.0.1", web_port):
        raise SalesPulseError(f"port {web_port} is already in use; pass --web-port")
    state_dir.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    broker = TansuBroker().start()
    click.echo(f"broker   tansu at {broker.bootstrap}")
    db = state_dir / "salespulse.db"
    env = dict(os.environ,
               SALESPULSE_KAFKA__BROKER=broker.url, SALESPULSE_KAFKA__FLAVOUR="tansu",
               SALESPULSE_DATABASE__URL=f"sqlite+aiosqlite:///{db.resolve()}",
               SALESPULSE_WEB__PORT=str(web_port), SALESPULSE_WEB__HOST="127.0.0.1",
               SALESPULSE_WORKER__DATA_DIR=str((state_dir / "worker").resolve()),
               SALESPULSE_WORKER__APP_ID=f"salespulse-demo-{int(time.time())}")
    log = open(state_dir / "worker.log", "ab")
    worker = subprocess.Popen([sys.executable, "-m", "pipeline.cli.main", "worker"], env=env,
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
