"""Real services for tests: brokers chosen by SALESPULSE_TEST_BROKERS, databases by
SALESPULSE_TEST_DATABASE_URL, and worker processes started as `salespulse worker`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.brokers import start_local

start_broker = start_local  # the tests' way to a broker of one of broker_kinds()

ROOT = Path(__file__).resolve().parents[2]


def broker_kinds() -> list[str]:
    return [k.strip() for k in os.environ.get("SALESPULSE_TEST_BROKERS", "tansu").split(",") if k.strip()]


def database_url(tmp: Path) -> str:
    """PostgreSQL when SALESPULSE_TEST_DATABASE_URL is set (a fresh schema per test), else SQLite."""
    pg = os.environ.get("SALESPULSE_TEST_DATABASE_URL")
    if pg:
        return fresh_postgres_database(pg)
    return f"sqlite+aiosqlite:///{tmp}/salespulse.db"


def fresh_postgres_database(url: str) -> str:
    """CREATE DATABASE sp_<random> on the server of `url`; returns its URL."""
    import asyncio

    import asyncpg

    name = f"sp_{uuid.uuid4().hex[:12]}"
    plain = url.replace("postgresql+asyncpg://", "postgresql://")

    async def _create() -> None:
        conn = await asyncpg.connect(plain)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(_create())
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@dataclass
class WorkerProcess:
    """A `salespulse worker` subprocess with its own web port and log file."""

    broker_url: str
    flavour: str
    database_url: str
    app_id: str
    topic_prefix: str
    tmp: Path
    web_port: int = 0
    extra_env: dict = field(default_factory=dict)
    proc: subprocess.Popen | None = None
    name: str = "w1"

    def env(self) -> dict:
        env = dict(os.environ)
        env.update({
            "SALESPULSE_KAFKA__BROKER": self.broker_url,
            "SALESPULSE_KAFKA__FLAVOUR": self.flavour,
            "SALESPULSE_DATABASE__URL": self.database_url,
            "SALESPULSE_WORKER__APP_ID": self.app_id,
            "SALESPULSE_WORKER__DATA_DIR": str(self.tmp / f"data-{self.name}"),
            "SALESPULSE_TOPIC_PREFIX": self.topic_prefix,
            "SALESPULSE_WEB__PORT": str(self.web_port),
            "SALESPULSE_WEB__HOST": "127.0.0.1",
            "SALESPULSE_WORKER__LOG_LEVEL": "INFO",
        })
        env.update(self.extra_env)
        return env

    @property
    def log_path(self) -> Path:
        return self.tmp / f"worker-{self.name}.log"

    def start(self) -> "WorkerProcess":
        from pipeline.brokers.base import free_port

        if not self.web_port:
            self.web_port = free_port()
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agents.cli.main", "worker"], env=self.env(), cwd=self.tmp,
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        return self

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def wait_ready(self, timeout: float = 90) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                r = httpx.get(self.base_url + "/health/ready", timeout=1)
                if r.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise TimeoutError(f"worker not ready after {timeout}s:\n{self.log_tail()}")

    def metrics(self) -> str:
        import httpx

        return httpx.get(self.base_url + "/metrics", timeout=5).text

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def kill(self) -> None:
        self.stop(signal.SIGKILL, timeout=10)


def metric_value(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels` in a Prometheus text page."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def wait_until(predicate, timeout: float = 30, interval: float = 0.2, message: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise TimeoutError(f"{message} not met within {timeout}s (last: {last!r})")


def query(db_url: str, sql: str, **params) -> list[tuple]:
    """Run one SELECT against the test database over a real connection."""
    import asyncio

    from sqlalchemy import text

    from pipeline.db.engine import make_engine
    from pipeline.settings import DatabaseSettings

    async def _q():
        engine = make_engine(DatabaseSettings(url=db_url))
        try:
            async with engine.connect() as conn:
                return [tuple(r) for r in (await conn.execute(text(sql), params)).all()]
        finally:
            await engine.dispose()

    return asyncio.run(_q())


def read_topic(bootstrap: str, topic: str, expect: int, timeout: float = 30) -> list:
    """Read at least `expect` records of `topic` from the beginning (no consumer group)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             auto_offset_reset="earliest", consumer_timeout_ms=500)
    try:
        deadline = time.monotonic() + timeout
        parts = None
        while time.monotonic() < deadline and not parts:
            parts = consumer.partitions_for_topic(topic)
            if not parts:
                time.sleep(0.2)
        if not parts:
            return []
        consumer.assign([TopicPartition(topic, p) for p in parts])
        consumer.seek_to_beginning()
        records: list = []
        while time.monotonic() < deadline and len(records) < expect:
            for batch in consumer.poll(timeout_ms=300).values():
                records.extend(batch)
        return records
    finally:
        consumer.close()


def director_directory(tmp: Path, run_id: str) -> tuple[Path, dict]:
    """A copy of config/directory.yaml whose director (every region, the company's KPIs) has a token of
    this run's: the file to point SALESPULSE_PATHS__DIRECTORY at, and the request headers."""
    import yaml

    from agents.escalation.auth import hash_token

    directory = yaml.safe_load((ROOT / "config" / "directory.yaml").read_text())
    token = f"tok-director-{run_id}"
    next(p for p in directory["people"] if p["id"] == "director")["token_sha256"] = hash_token(token)
    path = tmp / "directory.yaml"
    path.write_text(yaml.safe_dump(directory))
    return path, {"Authorization": f"Bearer {token}"}
