"""A real Prometheus scrapes a real worker: the series arrive through its HTTP API with the
values the worker counted, and the worker-down rule of config/prometheus/alerts.yml fires
once the worker is killed."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import httpx
import pytest
import yaml

from pipeline import topics as T
from pipeline.brokers.base import free_port
from pipeline.emitter import Emitter
from tests.support.factories import make_feedback, make_funnel, make_order
from tests.support.services import metric_value, wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "config" / "prometheus" / "alerts.yml"
JOB = "salespulse"  # the job name the rules select on (up{job="salespulse"})


def prometheus_binary() -> str:
    path = shutil.which("prometheus")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("the prometheus binary is not on PATH; .ci/run must install Debian's prometheus package")
        pytest.skip("the prometheus binary is not on PATH (apt-get install prometheus); CI=true makes this a failure")
    return path


class Prometheus:
    """A prometheus process on loopback with its own TSDB in tmp; stopped by stop()."""

    def __init__(self, binary: str, tmp: Path, targets: list[str]) -> None:
        self.dir = tmp / "prometheus"
        self.dir.mkdir()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        (self.dir / "alerts.yml").write_text(yaml.safe_dump(fast_rules()))
        (self.dir / "prometheus.yml").write_text(yaml.safe_dump({
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": ["alerts.yml"],
            "scrape_configs": [{"job_name": JOB, "metrics_path": "/metrics",
                                "static_configs": [{"targets": targets}]}],
        }))
        self.log_path = self.dir / "prometheus.log"
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [binary, f"--config.file={self.dir / 'prometheus.yml'}", f"--storage.tsdb.path={self.dir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            cwd=self.dir, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def wait_ready(self, timeout: float = 30) -> None:
        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError(f"prometheus exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                return httpx.get(self.url + "/-/ready", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, timeout=timeout, message="prometheus ready")

    def query(self, promql: str) -> dict[tuple, float]:
        """Instant query -> {tuple(sorted labels): value}."""
        r = httpx.get(self.url + "/api/v1/query", params={"query": promql}, timeout=5)
        r.raise_for_status()
        body = r.json()
        assert body["status"] == "success", body
        return {tuple(sorted(s["metric"].items())): float(s["value"][1]) for s in body["data"]["result"]}

    def alerts(self) -> list[dict]:
        r = httpx.get(self.url + "/api/v1/alerts", timeout=5)
        r.raise_for_status()
        return r.json()["data"]["alerts"]

    def targets(self) -> list[dict]:
        """Scrape health of every target (for failure messages)."""
        r = httpx.get(self.url + "/api/v1/targets", timeout=5)
        return [{k: t.get(k) for k in ("scrapeUrl", "health", "lastError")} for t in r.json()["data"]["activeTargets"]]

    def log_tail(self, n: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-n:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()


def fast_rules() -> dict:
    """alerts.yml with every `for:` at 2 s, so the rules can fire within a test."""
    rules = yaml.safe_load(ALERTS.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = "2s"
    return rules


@pytest.fixture
def prometheus(tmp_path):
    binary = prometheus_binary()
    started: list[Prometheus] = []

    def _start(targets: list[str]) -> Prometheus:
        p = Prometheus(binary, tmp_path, targets)
        started.append(p)
        p.wait_ready()
        return p

    yield _start
    for p in started:
        p.stop()
        print(f"----- prometheus log (tail) -----\n{p.log_tail()}")


def by_label(result: dict[tuple, float], label: str) -> dict[str, float]:
    return {dict(k)[label]: v for k, v in result.items()}


def test_prometheus_scrapes_the_worker_and_the_worker_down_rule_fires(broker, make_worker, prometheus, run_id):
    worker = make_worker()
    worker.wait_ready()
    target = f"127.0.0.1:{worker.web_port}"
    prom = prometheus([target])
    prefix = f"t{run_id}."

    orders = [make_order(order_id=f"o{i}", customer_id=f"c{i % 3}") for i in range(7)]
    feedback = [make_feedback(customer_id=f"c{i}") for i in range(3)]
    funnel = [make_funnel()]
    # every input topic has its series from the start (0 where nothing was sent)
    expected = {T.topic_name(spec, prefix): 0 for spec in T.INPUTS}
    with Emitter(broker.bootstrap, topic_prefix=prefix) as em:
        for ev in orders + feedback + funnel:
            em.emit(ev)
            expected[em.topic_for(ev)] += 1
        em.emit_raw("orders", b'{"event_type": "order", ', key=b"k")  # one dead letter
    orders_topic = em.topic_for(orders[0])
    assert sum(1 for v in expected.values() if v) == 3, expected

    # the worker counted them ...
    wait_until(lambda: metric_value(worker.metrics(), "salespulse_events_processed_total") == sum(expected.values()),
               timeout=60, message="worker processed every event")
    # ... and Prometheus has the same numbers, per topic, from scraping it
    processed = f'salespulse_events_processed_total{{job="{JOB}"}}'
    try:
        wait_until(lambda: by_label(prom.query(processed), "topic") == expected, timeout=30,
                   message=f"Prometheus has {expected}")
    except TimeoutError as exc:
        raise AssertionError(f"{exc}; targets: {prom.targets()}; got {prom.query(processed)}") from None
    series = prom.query(processed)
    assert {dict(k)["instance"] for k in series} == {target}
    assert by_label(prom.query(f'up{{job="{JOB}"}}'), "instance") == {target: 1.0}
    invalid = prom.query(f'salespulse_events_invalid_total{{job="{JOB}"}}')
    assert {(dict(k)["topic"], dict(k)["reason"]): v for k, v in invalid.items() if v} == {
        (orders_topic, "invalid_json"): 1.0}  # the other topic/reason series exist at 0 (pre-created)
    wait_until(lambda: prom.query(f'salespulse_db_up{{job="{JOB}"}}') == {
        (("__name__", "salespulse_db_up"), ("instance", target), ("job", JOB)): 1.0},
        timeout=30, message="db_up 1 in Prometheus")
    assert sum(prom.query(f'salespulse_orders_total{{job="{JOB}"}}').values()) == len(orders)
    # histograms arrive as _bucket/_count series and the dashboards' quantile queries evaluate
    counts = by_label(prom.query(f'salespulse_event_latency_seconds_count{{job="{JOB}"}}'), "topic")
    assert counts == expected
    # (rate needs two scrapes in its window)
    p99 = wait_until(lambda: prom.query(f'histogram_quantile(0.99, sum by (le) (rate('
                                        f'salespulse_event_processing_seconds_bucket{{job="{JOB}"}}[1m])))'),
                     timeout=20, message="a processing-time quantile")
    assert len(p99) == 1
    # lag (updated on a 5 s timer) arrives per topic and partition, and is 0 once all is committed
    def input_lag():
        lag = prom.query(f'salespulse_consumer_lag_messages{{job="{JOB}"}}')
        per_topic: dict[str, float] = {}
        for k, v in lag.items():
            if dict(k)["topic"] in expected:
                per_topic[dict(k)["topic"]] = per_topic.get(dict(k)["topic"], 0) + v
        return per_topic if set(per_topic) == set(expected) and not any(per_topic.values()) else None

    wait_until(input_lag, timeout=30, message="consumer lag 0 on every input topic")
    # a healthy worker sets off nothing that pages
    firing = [a["labels"]["alertname"] for a in prom.alerts()
              if a["labels"].get("severity") == "page" and a["state"] == "firing"]
    assert firing == []

    worker.kill()

    def worker_down():
        return [a for a in prom.alerts() if a["labels"]["alertname"] == "SalesPulseWorkerDown"]

    pending_or_firing = wait_until(worker_down, timeout=30, message="SalesPulseWorkerDown pending or firing")
    assert pending_or_firing[0]["labels"]["instance"] == target
    assert pending_or_firing[0]["state"] in ("pending", "firing")
    firing = wait_until(lambda: [a for a in worker_down() if a["state"] == "firing"], timeout=30,
                        message="SalesPulseWorkerDown firing")
    assert firing[0]["labels"] == {"alertname": "SalesPulseWorkerDown", "instance": target, "job": JOB,
                                   "severity": "page"}
    assert by_label(prom.query(f'up{{job="{JOB}"}}'), "instance") == {target: 0.0}
    # with the only worker gone, the dead-man's switch fires too
    wait_until(lambda: any(a["labels"]["alertname"] == "SalesPulseNoWorkerRunning" and a["state"] == "firing"
                           for a in prom.alerts()), timeout=30, message="SalesPulseNoWorkerRunning firing")
