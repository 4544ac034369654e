"""The SQLite path of the writer: a table's upsert compiled once per column set, and a flush as one
transaction in the writer's own process (`pipeline/db/sqlite_child.py`), exchanged over its pipes."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path

from sqlalchemy import JSON, Boolean, Float, LargeBinary, Numeric
from sqlalchemy.ext.asyncio import AsyncEngine

from pipeline.db import sqlite_child
from pipeline.db.engine import upsert_statement
from pipeline.db.types import UTCDateTime
from pipeline.pipes import ChildLost, ChildProcess


class SqliteUpserts:
    """One table's upsert as SQLite text with positional parameters, compiled once per column
    set, and a conversion per column: a batch becomes one executemany of plain tuples, made in
    the writer process from the rows as they are (`plan`, `sqlite_child.parameters`)."""

    def __init__(self, spec, dialect) -> None:  # spec: the writer's table, conflict and update columns
        self.spec = spec
        self.dialect = dialect
        self._compiled: dict[tuple[str, ...], tuple[str, list[tuple[str, str | None]]]] = {}

    def _kind(self, name: str) -> str | None:
        """The column's conversion by its name in `sqlite_child.CONVERT` (None: the value as it is)."""
        type_ = self.spec.table.c[name].type
        if isinstance(type_, UTCDateTime):
            return "utc"
        if isinstance(type_, JSON) and not type_.none_as_null:
            return "json"
        if isinstance(type_, LargeBinary):
            return "blob"  # the driver's processor makes a memoryview, which does not pickle
        if isinstance(type_, Boolean):
            return "bool"
        if isinstance(type_, (Numeric, Float)):  # Float (Double) is not a Numeric in SQLAlchemy 2; all bind as float
            return "float"
        if type_._cached_bind_processor(self.dialect) is not None:  # what a compiled statement applies
            raise TypeError(f"{self.spec.table.name}.{name}: no conversion for {type_!r} on SQLite")
        return None

    def _statement(self, keys: tuple[str, ...]) -> tuple[str, list[tuple[str, str | None]]]:
        found = self._compiled.get(keys)
        if found is None:
            spec = self.spec
            stmt = upsert_statement("sqlite", spec.table, spec.conflict, spec.update)
            compiled = stmt.compile(dialect=self.dialect, column_keys=list(keys))
            found = self._compiled[keys] = (str(compiled), [(k, self._kind(k)) for k in compiled.positiontup])
        return found

    def plan(self, rows: list[dict]) -> list[tuple[str, list[tuple[str, str | None]], list[dict]]]:
        """Rows -> (SQL, its columns with their conversions, the rows) per distinct column set
        (normally one): the writer process makes the parameter tuples (`sqlite_child.parameters`).
        Why there: making the tuples costs the event loop ~3x what pickling the rows as they are
        does."""
        by_keys: dict[tuple[str, ...], list[dict]] = {}
        for row in rows:
            by_keys.setdefault(tuple(row), []).append(row)
        return [(*self._statement(keys), group) for keys, group in by_keys.items()]

    def batches(self, rows: list[dict]) -> list[tuple[str, list[tuple]]]:
        """Rows -> (SQL, parameter tuples) per distinct column set, made here (the aiosqlite path)."""
        return [(sql, sqlite_child.parameters(columns, group)) for sql, columns, group in self.plan(rows)]


class SqliteWriteError(Exception):
    """The writer process rolled a flush back: `kind` is its error's type name (`refused_by_data`)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind


class SqliteDirect:
    """A flush is one transaction in the writer's own process (`pipeline/db/sqlite_child.py`),
    exchanged over its pipes by the event loop itself.

    Why a process, reached from the loop: through aiosqlite every statement (BEGIN, each
    executemany per table, COMMIT) is a hop to its thread and back, each waiting for the busy
    event loop (at 400 events/s the write phase takes 90 ms for 2-3 ms of SQLite work). One call
    to a thread of our own with the whole transaction takes 24-57 ms (on the loop itself the drain
    falls to 960 events/s: SQLite runs on the GIL-bound main thread), because sqlite3 takes the
    GIL back for every row it binds, each time waiting for the loop: in a process of its own the
    rows are bound without the worker's GIL. A thread carrying the plan to the process and the
    answer back would wait for the GIL and then for the loop too (write phase 28-32 ms per flush
    at 550 events/s for 3.6 ms of SQLite work), so the loop writes the pickled plan to the
    non-blocking pipe and is woken by the answer, like any socket. A lock held by another
    connection (a second worker on the file, the CLI) is waited for in that process. A process
    that died is started again by the next write; the flush that lost it is retried like any
    failed write (upserts: a write that committed before the answer was lost is idempotent)."""

    CHILD = str(Path(__file__).with_name("sqlite_child.py"))

    def __init__(self, path: str, checkpoint_s: float = sqlite_child.CHECKPOINT_INTERVAL_S,
                 restart_pages: int = sqlite_child.WAL_RESTART_PAGES) -> None:
        self.path = path
        self.checkpoint_s = checkpoint_s
        self.restart_pages = restart_pages
        self.child = ChildProcess(lambda: [sys.executable, "-I", self.CHILD, self.path, str(self.checkpoint_s),
                                           str(self.restart_pages)])
        self.inflight: asyncio.Future | None = None

    @property
    def proc(self) -> subprocess.Popen | None:
        return self.child.proc

    @staticmethod
    def usable(engine: AsyncEngine) -> str | None:
        """The file of a SQLite engine (None for an in-memory database: another connection would
        see another database)."""
        db = engine.url.database
        return None if not db or db == ":memory:" or db.startswith("file:") else db

    async def run(self, plan: list[list[tuple]]) -> list[float]:
        """One transaction in the writer process: seconds per table, or SqliteWriteError. An
        exchange whose caller was cancelled still completes: the next one waits for it first, so
        the process never gets two plans at once and never answers the wrong one.

        The plan is pickled here, before anything awaits: its rows are dicts that may hold an
        agent's live objects (a profile's state), and the flush writes them as they are now."""
        data = sqlite_child.frame(plan)
        if self.inflight is not None and not self.inflight.done():
            await asyncio.wait([self.inflight])
        self.inflight = asyncio.ensure_future(self._exchange(data))
        self.inflight.add_done_callback(_retrieve)
        return await asyncio.shield(self.inflight)

    async def _exchange(self, data: bytes) -> list[float]:
        try:
            reply = await self.child.exchange_frame(data)
        except ChildLost as exc:  # died (killed, out of memory): the next write starts another
            raise SqliteWriteError("ChildLost", f"SQLite writer process lost ({exc})") from None
        if reply[0] != "ok":
            raise SqliteWriteError(reply[1], reply[2])
        return reply[1]

    def close(self) -> None:
        self.child.stop()


class SqliteInProcess:
    """The writer process's transaction (`sqlite_child.write_plan`) on the calling thread, over a
    connection of its own: the same SQL work without the process and the exchange (the bench's
    features phase, `BatchWriter.write_in_process`). `rows`: rows written so far."""

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        sqlite_child.sqlite_pragmas(self.conn)
        self.rows = 0

    async def run(self, plan: list[list[tuple]]) -> list[float]:
        self.rows += sum(len(batch[-1]) for batches in plan for batch in batches)
        return sqlite_child.write_plan(self.conn, plan)

    def close(self) -> None:
        self.conn.close()


def _retrieve(future: asyncio.Future) -> None:
    """A failed exchange whose caller was cancelled: its error is the next flush's to meet."""
    if not future.cancelled():
        future.exception()
