"""A `salespulse worker` subprocess of the harness, and the metrics it is read through."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.bench.process import REPO_ROOT, log_tail, spawn, stop_process


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
            "PYTHONPATH": str(REPO_ROOT),
            **self.extra_env,
        })
        # the installed `salespulse` command beside this interpreter: the bench runs the product as a
        # user does, and the runtime names no module of the composition root
        self.proc = spawn([str(Path(sys.executable).with_name("salespulse")), "worker"], env, self.tmp,
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
        # only that series: rendering the whole page twice a second costs the worker ~3.5% of its
        # event loop in a drain (py-spy); Prometheus scrapes every 15 s
        status, text = self.get(f"/metrics?name[]={name}")
        return metric_value(text, name, **labels) if status == 200 else None

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker {self.name} exited {self.proc.returncode}: "
                                   f"{log_tail(self.tmp / f'worker-{self.name}.log')}")
            if self.get("/health/ready")[0] == 200:
                return
            time.sleep(0.25)
        raise TimeoutError(f"worker {self.name} not ready after {timeout:.0f}s")

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, grace=20)


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
