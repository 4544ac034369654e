"""Rows from agents -> one batched upsert transaction -> then the source events are acked.

Agents never wait on a database round trip per event: they add rows and register the
event; a flush task writes everything pending in one transaction and only then acks
the events, so a committed Kafka offset always means the rows are in SQL. During a
database outage the batch is retried with backoff and agents are held back once too
much is pending (back-pressure, not an unbounded queue, and nothing dropped).

A flush acks its events only once every output record sent so far is confirmed by the broker
too (`pipeline/delivery.py`, which resends a failed one), so a broker outage longer than the
producer's own retries cannot turn an acked event into a lost output.

Work that is cheaper once per flush than once per event (a customer's profile row after
several of its orders) registers a `before_flush` hook: it runs after the acks of the
flush are taken and before its rows are, so its rows land in the same transaction as
the events that caused them. Work that finishes an event later than its agent (feedback
classified in another process) registers the event's ack itself once its rows are added, and a
`before_drain` hook, so a revoke or shutdown waits for it.

A failing write is either the database (unreachable, locked, restarting: the batch is retried with
backoff, nothing dropped) or some rows in it (a value the database refuses: retrying cannot help).
For the second the writer isolates the rows (`refused_by_data`, `_isolate`): it bisects the
batch by source event, writes every event the database takes, and hands the refused events to
`on_refused` (the ingest capability dead-letters them as `storage_error` with the database's
message) before the flush's acks, so one bad row neither stops storage nor is retried forever.

On SQLite the upserts go straight to sqlite3's executemany as tuples (statement compiled
once per table and column set, values converted per column), not through SQLAlchemy's
per-row parameter processing, and a flush is one transaction in the writer's own process
(`SqliteDirect`, `pipeline/db/sqlite_child.py`), not a hop per statement (measured: see
bench/README.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from pipeline.db.engine import dedupe_rows, upsert_statement
from pipeline.db.sqlite_direct import SqliteDirect, SqliteInProcess, SqliteUpserts, SqliteWriteError
from pipeline.delivery import OutputDelivery
from pipeline.metrics import Metrics

log = logging.getLogger(__name__)

# Errors about the values written, not the database being there (sqlite3's and Python's conversions,
# by type name: the SQLite writer process reports its error that way). sqlite3's InterfaceError is
# a value it cannot bind; asyncpg's InterfaceError is a lost connection, hence SQLite only.
SQLITE_ROW_ERRORS = frozenset({"IntegrityError", "DataError", "InterfaceError", "OverflowError", "ValueError",
                               "TypeError", "UnicodeEncodeError"})
# SQLSTATE classes of PostgreSQL that name the data: 22 data exception, 23 integrity constraint
# violation, 54 program limit exceeded (a value too large to index)
PG_ROW_CLASSES = ("22", "23", "54")


def refused_by_data(exc: BaseException) -> bool:
    """True when the database (or the conversion before it) refused the values of a write; False for
    an outage, a lock or anything else a retry of the same rows may get past."""
    if isinstance(exc, SqliteWriteError):
        return exc.kind in SQLITE_ROW_ERRORS
    cause: BaseException | None = exc
    while cause is not None:  # SQLAlchemy's error -> the driver's adapted error -> asyncpg's own
        code = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
        if isinstance(code, str) and len(code) == 5:
            return code[:2] in PG_ROW_CLASSES
        if type(cause).__module__.startswith("sqlite3") or type(cause).__name__ in ("OverflowError", "ValueError",
                                                                                       "TypeError", "UnicodeEncodeError"):
            return type(cause).__name__ in SQLITE_ROW_ERRORS
        cause = getattr(cause, "orig", None) or cause.__cause__
    return False


@dataclass
class _Spec:
    table: Table
    conflict: tuple[str, ...]
    update: tuple[str, ...]
    rows: list[dict] = field(default_factory=list)
    sources: list[object] = field(default_factory=list)  # per row: the source event's Meta, or None


@dataclass
class Refused:
    """Rows of one source event (or one row without a source) the database refused, and why."""

    source: object | None
    rows: list[tuple[_Spec, dict]]
    error: str


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
        delivery: OutputDelivery | None = None,
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
        self._hooks: list[Callable[[], Awaitable[None]]] = []
        self._drain_hooks: list[Callable[[], Awaitable[None]]] = []
        self._sqlite = self.dialect == "sqlite" and engine.dialect.driver == "aiosqlite"
        self._upserts: dict[str, SqliteUpserts] = {}
        path = SqliteDirect.usable(engine) if self._sqlite else None
        self._direct: SqliteDirect | SqliteInProcess | None = SqliteDirect(path) if path else None
        # the output records the events of a flush caused: confirmed (and resent) before its acks
        self.delivery = delivery if delivery is not None else OutputDelivery(metrics, retry_max_s)
        # told of each source event whose rows the database refused, before the flush's acks; the
        # rows and outputs it adds (a dead letter) are written and confirmed in the same flush
        self.on_refused: Callable[[object, str], Awaitable[None]] | None = None

    def register(self, table: Table, conflict: Sequence[str], update: Sequence[str] = ()) -> None:
        spec = self._specs[table.name] = _Spec(table, tuple(conflict), tuple(update))
        if self._sqlite:
            self._upserts[table.name] = SqliteUpserts(spec, self.engine.dialect)

    def before_flush(self, hook: Callable[[], Awaitable[None]]) -> None:
        """`hook` adds rows (and may send) once per flush; see the module docstring."""
        self._hooks.append(hook)

    def before_drain(self, hook: Callable[[], Awaitable[None]]) -> None:
        """`hook` finishes work whose events are not yet registered by `ack_after` (it registers
        them); `drain` awaits it first, so a revoke or a shutdown writes that work too."""
        self._drain_hooks.append(hook)

    def wrap_hooks(self, wrap: Callable[[Callable[[], Awaitable[None]]], Callable[[], Awaitable[None]]]) -> None:
        """Replace every before-flush hook by `wrap(hook)` (the bench's features phase times each
        capability's hook as that capability's work)."""
        self._hooks = [wrap(hook) for hook in self._hooks]

    def write_in_process(self) -> SqliteInProcess:
        """SQLite flushes run on the calling thread instead of the writer's process (the bench's
        features phase: the same statements, parameters and transaction, nothing exchanged)."""
        path = SqliteDirect.usable(self.engine) if self._sqlite else None
        if path is None:
            raise ValueError("write_in_process needs a SQLite file database")
        if self._direct is not None:
            self._direct.close()
        self._direct = SqliteInProcess(path)
        return self._direct

    def add(self, table: Table, row: dict, source: object | None = None) -> None:
        """A row to upsert; `source` (the Meta of the event it came from) is what is dead-lettered
        if the database refuses the row."""
        spec = self._specs[table.name]
        spec.rows.append(row)
        spec.sources.append(source)
        self._rows += 1
        if self._rows >= self.max_rows:
            self._wake.set()

    def ack_after(self, ack: Callable[[], object]) -> None:
        """Call `ack` once everything added so far is durably written."""
        self._acks.append(ack)
        if len(self._acks) >= self.max_pending:
            self._room.clear()
        self.metrics.pending.set(len(self._acks))

    def ack_many(self, acks: list[Callable[[], object]]) -> None:
        """`ack_after` for a batch of events at once (one gauge update; each stays its own ack)."""
        if not acks:
            return
        self._acks.extend(acks)
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
        """The flush loop; runs until cancelled (then flushes what it can). A flush starts
        `interval_s` after the previous one started, or as soon as it ends when it took longer
        (a flush at 550 events/s takes ~45 ms; counting the interval from its end would make it a
        cycle of ~95 ms, the events of one cycle waiting for the next), or at once when
        `max_rows` are pending."""
        loop = asyncio.get_running_loop()
        try:
            due = loop.time() + self.interval_s
            while True:
                wait = due - loop.time()
                if wait > 0 and not self._wake.is_set():
                    try:
                        await asyncio.wait_for(self._wake.wait(), timeout=wait)
                    except asyncio.TimeoutError:
                        pass
                self._wake.clear()
                due = loop.time() + self.interval_s
                await self.flush()
        finally:
            self._stopping = True

    async def flush(self) -> None:
        if not self._rows and not self._acks and not self.delivery.in_flight:
            return
        async with self._lock:
            await self._flush_locked()

    async def _flush_locked(self) -> None:
        acks, self._acks = self._acks, []  # first: every row these events caused is added already ...
        phase = self.metrics.flush_phase
        started = time.perf_counter()
        try:
            await self._run_hooks()  # ... or is added now by a hook, before the rows are taken
        except asyncio.CancelledError:
            self._acks[:0] = acks
            raise
        outputs = self.delivery.take()  # after the hooks: they send too
        batches = self._take()
        hooked = time.perf_counter()
        phase.labels("hooks").observe(hooked - started)
        delay = 0.05
        while batches:
            try:
                try:
                    await self._write([(spec, rows) for spec, rows, _ in batches])
                    batches = []
                except Exception as exc:
                    if not refused_by_data(exc):
                        raise
                    await self._refuse(await self._isolate(batches, exc))
                    # the dead letters `on_refused` added go out with this flush, before its acks
                    batches = self._take()
                    outputs += self.delivery.take()
                self.healthy = True
                self.last_error = None
                self.metrics.db_up.set(1)
            except asyncio.CancelledError:
                self._requeue(batches, acks)
                self.delivery.put_back(outputs)
                raise
            except Exception as exc:  # the database, not the rows: retry the same batch, never drop it
                self.healthy = False
                self.metrics.db_up.set(0)
                self.last_error = f"{type(exc).__name__}: {str(exc)[:300]}"
                for spec, _, _ in batches:
                    self.metrics.db_errors.labels(spec.table.name).inc()
                log.warning("database write failed, retrying in %.2fs: %s", delay, self.last_error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_max_s)
        written = time.perf_counter()
        phase.labels("write").observe(written - hooked)
        try:
            delivered = await self.delivery.confirmed(outputs)
        except asyncio.CancelledError:
            self._acks[:0] = acks  # the rows are written; the acks wait (a redelivery is idempotent)
            self.delivery.put_back(outputs)
            raise
        phase.labels("deliver").observe(time.perf_counter() - written)
        if delivered:
            for ack in acks:
                ack()
        else:  # the producer is gone (shutting down): these events are redelivered after the restart
            log.warning("%d events left unacked: their output records could not be resent", len(acks))
        self._room.set()
        self.metrics.pending.set(len(self._acks))
        async with self._flushed:
            self._flushed.notify_all()

    def _take(self) -> list[tuple[_Spec, list[dict], list[object]]]:
        """Every pending row, with its source, per table (and none pending any more)."""
        batches = [(spec, spec.rows, spec.sources) for spec in self._specs.values() if spec.rows]
        for spec, _, _ in batches:
            spec.rows, spec.sources = [], []
        self._rows = 0
        return batches

    async def _isolate(self, batches: list[tuple[_Spec, list[dict], list[object]]],
                       first: Exception) -> list[Refused]:
        """Write what the database takes of `batches`, which failed as a whole with `first`: rows
        are grouped by source event (all of an event's rows stay or go together) and the groups are
        bisected, each half its own transaction, down to the ones refused. An outage meanwhile
        raises: the caller retries the whole batch (upserts, so the halves written are harmless)."""
        groups: dict[int, Refused] = {}
        for spec, rows, sources in batches:
            for row, source in zip(rows, sources):
                key = id(source) if source is not None else id(row)
                group = groups.get(key)
                if group is None:
                    group = groups[key] = Refused(source, [], "")
                group.rows.append((spec, row))
        refused: list[Refused] = []

        async def attempt(part: list[Refused], exc: Exception | None) -> None:
            if exc is None:
                try:
                    await self._write(self._per_table(part))
                    return
                except Exception as error:
                    if not refused_by_data(error):
                        raise
                    exc = error
            if len(part) == 1:
                part[0].error = f"{type(exc).__name__}: {str(exc)[:500]}"
                refused.append(part[0])
                return
            mid = len(part) // 2
            await attempt(part[:mid], None)
            await attempt(part[mid:], None)

        await attempt(list(groups.values()), first)
        return refused

    def _per_table(self, groups: list[Refused]) -> list[tuple[_Spec, list[dict]]]:
        by_table: dict[str, tuple[_Spec, list[dict]]] = {}
        for group in groups:
            for spec, row in group.rows:
                by_table.setdefault(spec.table.name, (spec, []))[1].append(row)
        return [by_table[name] for name in self._specs if name in by_table]  # registration order

    async def _refuse(self, refused: list[Refused]) -> None:
        for group in refused:
            tables = sorted({spec.table.name for spec, _ in group.rows})
            for spec, _ in group.rows:
                self.metrics.db_refused.labels(spec.table.name).inc()
            log.error("database refused %d row(s) of %s (%s): %s", len(group.rows), ", ".join(tables),
                      "source event dead-lettered" if group.source is not None and self.on_refused else "dropped",
                      group.error)
            if group.source is not None and self.on_refused is not None:
                try:
                    await self.on_refused(group.source, f"{', '.join(tables)}: {group.error}")
                except Exception:  # a failure to dead-letter must not stop the rest of the flush
                    log.exception("dead-lettering a refused event failed")

    async def _run_hooks(self) -> None:
        for hook in self._hooks:
            try:
                await hook()
            except Exception:  # a bug in one hook must not stop every write
                log.exception("before-flush hook %r failed", hook)

    def _requeue(self, batches, acks) -> None:
        for spec, rows, sources in batches:
            spec.rows[:0] = rows
            spec.sources[:0] = sources
            self._rows += len(rows)
        self._acks[:0] = acks

    async def _write(self, batches: list[tuple[_Spec, list[dict]]]) -> None:
        if self._sqlite and self._direct is not None:
            await self._write_direct(batches)
            return
        async with self.engine.begin() as conn:
            # the driver connection of this transaction (aiosqlite: its executemany runs in its thread)
            driver = (await conn.get_raw_connection()).driver_connection if self._sqlite else None
            for spec, rows in batches:
                rows = dedupe_rows(rows, spec.conflict)
                started = time.perf_counter()
                if driver is not None:
                    for sql, params in self._upserts[spec.table.name].batches(rows):
                        await driver.executemany(sql, params)
                else:
                    stmt = upsert_statement(self.dialect, spec.table, spec.conflict, spec.update)
                    for i in range(0, len(rows), 1000):
                        await conn.execute(stmt, rows[i : i + 1000])
                self.metrics.db_write.labels(spec.table.name).observe(time.perf_counter() - started)
                self.metrics.db_rows.labels(spec.table.name).inc(len(rows))

    async def _write_direct(self, batches: list[tuple[_Spec, list[dict]]]) -> None:
        deduped = [(spec, dedupe_rows(rows, spec.conflict)) for spec, rows in batches]
        seconds = await self._direct.run([self._upserts[spec.table.name].plan(rows) for spec, rows in deduped])
        for (spec, rows), took in zip(deduped, seconds):
            self.metrics.db_write.labels(spec.table.name).observe(took)
            self.metrics.db_rows.labels(spec.table.name).inc(len(rows))

    def close(self) -> None:
        """Close the SQLite writer connection (the engine's pool is the engine's)."""
        if self._direct is not None:
            self._direct.close()

    async def drain(self, timeout: float = 10.0) -> None:
        """Flush until nothing is pending (graceful shutdown, tests)."""
        deadline = time.monotonic() + timeout
        for hook in self._drain_hooks:
            try:
                async with asyncio.timeout(max(0.1, deadline - time.monotonic())):
                    await hook()
            except TimeoutError:
                break
        # A flush in progress (the run loop's) has already taken its rows and acks out of the
        # pending lists: the drain waits for it too, or a shutdown's final commit can come before
        # those acks while the rows are being written (then 64-108 events are stored and redone).
        while (self._rows or self._acks or self.delivery.in_flight or self._lock.locked()) and time.monotonic() < deadline:
            try:
                async with asyncio.timeout(max(0.1, deadline - time.monotonic())):
                    async with self._lock:  # bounded: a flush may wait on the broker for its outputs
                        await self._flush_locked()
            except TimeoutError:
                break
