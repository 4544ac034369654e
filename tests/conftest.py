"""Fixtures: real brokers (Tansu by default, Apache Kafka with SALESPULSE_TEST_BROKERS=kafka),
a database per test (SQLite, or PostgreSQL with SALESPULSE_TEST_DATABASE_URL), workers."""

from __future__ import annotations

import uuid

import pytest

from tests.support.services import WorkerProcess, broker_kinds, database_url, start_broker


@pytest.fixture(scope="session", params=broker_kinds())
def broker(request):
    b = start_broker(request.param)
    yield b
    b.stop()


@pytest.fixture
def db_url(tmp_path):
    return database_url(tmp_path)


@pytest.fixture
def run_id() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture
def make_worker(broker, db_url, tmp_path, run_id):
    """Factory: make_worker(name="w1", **env) -> started WorkerProcess; all stopped at teardown."""
    workers: list[WorkerProcess] = []

    def _make(name: str = "w1", start: bool = True, **extra_env) -> WorkerProcess:
        w = WorkerProcess(
            broker_url=broker.url, flavour=broker.kind, database_url=db_url,
            app_id=f"sp-{run_id}", topic_prefix=f"t{run_id}.", tmp=tmp_path, name=name,
            extra_env={k: str(v) for k, v in extra_env.items()},
        )
        workers.append(w)
        return w.start() if start else w

    yield _make
    for w in workers:
        w.stop()
        # shown by pytest when the test failed: what each worker said
        print(f"----- worker {w.name} log (tail) -----\n{w.log_tail(6000)}")
