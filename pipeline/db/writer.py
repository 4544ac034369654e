"""Rows from agents -> one batched upsert transaction -> then the source events are acked.

Agents never wait on a database round trip per event: they add rows and register the
event; a flush task writes everything pending in one transaction and only then acks
the events, so a committed Kafka offset always means the rows are in SQL. During a
database outage the batch is retried with backoff and agents are held back once too
much is pending (back-pressure, not an unbounded queue, and nothing dropped).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from pipeline.db.engine import dedupe_rows, upsert_statement
from pipeline.metrics import Metrics

log = logging.getLogger(__name__)


@dataclass
class _Spec:
    table: Table
    conflict: tuple[str, ...]
    update: tuple[str, ...]
    rows: list[dict] = field(default_factory=list)


class BatchWriter:
    def __init__(
        self,
        engine: AsyncEngine,
        metrics: Metrics,
        *,
        max_rows: int = 500,
        interval_s: float = 0.02,
        retry_max_s: float = 10.0,
        max_pending: int = 20_000,
    ) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.metrics = metrics
        self.max_rows = max_rows
        self.interval_s = interval_s
        self.retry_max_s = retry_max_s
        self.max_pending = max_pending
        self._specs: dict[str, _Spec] = {}
        self._acks: list[Callable[[], object]] = []
        self._rows = 0
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._flushed = asyncio.Condition()
        self.healthy = True
        self.last_error: str | None = None
        self._stopping = False
        self._lock = asyncio.Lock()

    def register(self, table: Table, conflict: Sequence[str], update: Sequence[str] = ()) -> None:
        self._specs[table.name] = _Spec(table, tuple(conflict), tuple(update))

    def add(self, table: Table, row: dict) -> None:
        self._specs[table.name].rows.append(row)
        self._rows += 1
        if self._rows >= self.max_rows:
            self._wake.set()

    def ack_after(self, ack: Callable[[], object]) -> None:
        """Call `ack` once everything added so far is durably written."""
        self._acks.append(ack)
        if len(self._acks) >= self.max_pending:
            self._room.clear()
        self.metrics.pending.set(len(self._acks))

    async def wait_room(self) -> None:
        """Back-pressure: agents await this before taking the next event."""
        if not self._room.is_set():
            await self._room.wait()

    @property
    def pending(self) -> int:
        return len(self._acks)

    async def run(self) -> None:
        """The flush loop; runs until cancelled (then flushes what it can)."""
        try:
            while True:
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self.interval_s)
                except asyncio.TimeoutError:
                    pass
                self._wake.clear()
                await self.flush()
        finally:
            self._stopping = True

    async def flush(self) -> None:
        if not self._rows and not self._acks:
            return
        async with self._lock:
            await self._flush_locked()

    async def _flush_locked(self) -> None:
        batches = [(spec, spec.rows) for spec in self._specs.values() if spec.rows]
        for spec, _ in batches:
            spec.rows = []
        acks, self._acks = self._acks, []
        self._rows = 0
        delay = 0.05
        while True:
            try:
                await self._write(batches)
                break
            except asyncio.CancelledError:
                self._requeue(batches, acks)
                raise
            except Exception as exc:  # any driver error: retry the same batch, never drop it
                self.healthy = False
                self.metrics.db_up.set(0)
                self.last_error = f"{type(exc).__name__}: {str(exc)[:300]}"
                for spec, _ in batches:
                    self.metrics.db_errors.labels(spec.table.name).inc()
                log.warning("database write failed, retrying in %.2fs: %s", delay, self.last_error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_max_s)
        self.healthy = True
        self.last_error = None
        self.metrics.db_up.set(1)
        for ack in acks:
            ack()
        self._room.set()
        self.metrics.pending.set(len(self._acks))
        async with self._flushed:
            self._flushed.notify_all()

    def _requeue(self, batches, acks) -> None:
        for spec, rows in batches:
            spec.rows[:0] = rows
            self._rows += len(rows)
        self._acks[:0] = acks

    async def _write(self, batches: list[tuple[_Spec, list[dict]]]) -> None:
        async with self.engine.begin() as conn:
            for spec, rows in batches:
                rows = dedupe_rows(rows, spec.conflict)
                stmt = upsert_statement(self.dialect, spec.table, spec.conflict, spec.update)
                started = time.perf_counter()
                for i in range(0, len(rows), 1000):
                    await conn.execute(stmt, rows[i : i + 1000])
                self.metrics.db_write.labels(spec.table.name).observe(time.perf_counter() - started)
                self.metrics.db_rows.labels(spec.table.name).inc(len(rows))

    async def drain(self, timeout: float = 10.0) -> None:
        """Flush until nothing is pending (graceful shutdown, tests)."""
        deadline = time.monotonic() + timeout
        while (self._rows or self._acks) and time.monotonic() < deadline:
            await self.flush()
