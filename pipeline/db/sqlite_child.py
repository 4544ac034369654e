"""The SQLite writer process: a worker's flushes, one transaction each, on a connection of its own.

The worker (pipeline/db/writer.py, `SqliteDirect`) runs this file as a script with the database
path and sends each flush over stdin as one pickled plan: per table, its SQL with its rows (as
dicts, with each column's conversion; `parameters` makes the tuples here, off the worker's event
loop). The process writes them in one transaction (BEGIN IMMEDIATE, executemany, COMMIT) and
answers on stdout with the seconds per table, or with the error (rolled back); a thread of its own
checkpoints the WAL meanwhile (`checkpoint_in_background`). It imports nothing but the standard
library and orjson, ignores SIGINT / SIGTERM (a Ctrl-C in the terminal reaches the whole process
group; the worker decides when writing stops) and exits when the worker closes its stdin or goes
away.

Why a process: sqlite3 takes the GIL back for every row it binds, and in a thread of the worker
each of those waits for the busy event loop to let go of it. At 400-620 events/s a flush's write
there takes 80-100 ms for 2-3 ms of SQLite work.
"""

from __future__ import annotations

import fcntl
import json
import os
import pickle
import signal
import sqlite3
import struct
import sys
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone

import orjson

HEADER = struct.Struct("<Q")


def sqlite_pragmas(dbapi_conn) -> None:
    """Every SQLite connection of a worker (the engine's and the writer's own): WAL, so readers
    never block the writer; a lock held elsewhere is waited for up to 30 s."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def to_utc_text(value: datetime | None) -> str | None:
    """UTCDateTime as SQLAlchemy stores it on SQLite: naive UTC, 'YYYY-MM-DD HH:MM:SS.ffffff'."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a timezone-aware column")
    return value.astimezone(timezone.utc).replace(tzinfo=None).isoformat(" ", "microseconds")


def to_json_text(value) -> str:
    """As SQLAlchemy's JSON type binds it (None -> 'null' unless none_as_null), by orjson."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:  # what orjson does not know (Decimal, ...): as SQLAlchemy's JSON type would
        return json.dumps(value)


def to_blob(value) -> bytes | None:
    return None if value is None else bytes(value)


def to_float(value) -> float | None:
    """SQLAlchemy's Float / Numeric bind processor on SQLite."""
    return None if value is None else float(value)


def to_bool(value) -> int | None:
    """SQLAlchemy's Boolean bind processor (strict: True, False, None, 1, 0)."""
    if value is None:
        return None
    if value not in (True, False, None, 1, 0):  # SQLAlchemy's _strict_bools
        raise TypeError(f"Not a boolean value: {value!r}")
    return int(value)


# a column's conversion by name: the worker sends rows as dicts with these names, and the
# conversion runs here, off the worker's event loop (where it costs ~3x pickling the dicts)
CONVERT = {"utc": to_utc_text, "json": to_json_text, "blob": to_blob, "float": to_float, "bool": to_bool}


def parameters(columns: list[tuple[str, str | None]], rows: list[dict]) -> list[tuple]:
    """Rows (dicts) -> executemany's tuples, a column's value converted as its name in CONVERT says."""
    convs = [(key, CONVERT[kind] if kind else None) for key, kind in columns]
    return [tuple([row[k] if conv is None else conv(row[k]) for k, conv in convs]) for row in rows]


def write_plan(conn: sqlite3.Connection, plan: list[list[tuple]], lock: int | None = None) -> list[float]:
    """One transaction: per table its batches, each (SQL, parameter tuples) or (SQL, columns,
    rows as dicts) for `parameters`; seconds per table.

    `lock`: a file descriptor every writer process of the database takes an exclusive flock on
    for its transaction. SQLite's own wait for a held write lock (busy_timeout) polls with sleeps
    of 1, 2, 5, 10 ... 100 ms, so two workers on one file each lost up to tens of ms per flush
    to a lock held for 2-4 ms; the kernel hands a flock over the moment it is released. Other
    writers (the CLI, the API's corrections) still meet SQLite's wait, as before."""
    with holding(lock):
        conn.execute("BEGIN IMMEDIATE")
        seconds = []
        try:
            for batches in plan:
                started = time.perf_counter()
                for batch in batches:
                    conn.executemany(batch[0], batch[1] if len(batch) == 2 else parameters(batch[1], batch[2]))
                seconds.append(time.perf_counter() - started)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return seconds


CHECKPOINT_INTERVAL_S = 2.0  # every 0.5 s the WAL's stalls double the SQL row's p99 at half the rate
WAL_KEEP_BYTES = 64 << 20  # a WAL file beyond this is truncated after a checkpoint resets it
# A WAL of more pages than this is restarted (the next transaction writes it from its start again)
WAL_RESTART_PAGES = 8192
RESTART_WAIT_MS = 100  # longest a restart waits for readers still on the old WAL; else the next interval


def checkpoint_in_background(path: str, interval_s: float = CHECKPOINT_INTERVAL_S,
                             restart_pages: int = WAL_RESTART_PAGES) -> threading.Thread:
    """Checkpoint the WAL from a thread of this process on a connection of its own, every
    `interval_s`; the writing connection's own checkpoints are turned off (wal_autocheckpoint=0).

    Why: with SQLite's automatic checkpoint the COMMIT that crosses 1,000 WAL pages copies them
    into the database and syncs both files, 30-140 ms, about one flush a second at 550 events/s;
    46 and 53 transactions over 30 ms in two runs, against 2 and 5 with the checkpoint here
    (passive: it never waits for the writer or a reader, and sqlite3 lets go of the GIL while it
    works).

    A passive checkpoint alone never lets the WAL start over under a steady load: SQLite rewrites
    the WAL from its start only when every page in it is in the database, and the writer commits
    new pages while each checkpoint copies the last ones (740 MB of WAL after a 30,000-event
    drain, for a 51 MB database). So once the WAL holds `restart_pages`
    pages the thread takes the writers' lock (`writers_lock`, so no flush is half-way) and runs a
    RESTART checkpoint, which copies the few pages the passive ones left and waits up to
    RESTART_WAIT_MS for readers of the old WAL; the next transaction writes the WAL from its start
    (and truncates it to WAL_KEEP_BYTES)."""
    def run() -> None:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        sqlite_pragmas(conn)
        conn.execute(f"PRAGMA busy_timeout={RESTART_WAIT_MS}")  # only RESTART waits; PASSIVE never does
        lock = writers_lock(path)  # its own open file: a flock on the writer's descriptor would not exclude it
        try:
            while True:
                time.sleep(interval_s)
                try:
                    _, wal_pages, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    if wal_pages >= restart_pages:
                        restart_wal(conn, lock)
                except sqlite3.Error:  # busy or locked now: the next interval tries again
                    pass
        finally:
            conn.close()
            if lock is not None:
                os.close(lock)

    thread = threading.Thread(target=run, name="wal-checkpoint", daemon=True)
    thread.start()
    return thread


def restart_wal(conn: sqlite3.Connection, lock: int | None) -> None:
    """A RESTART checkpoint between two of the writer's transactions (busy: the next interval tries again)."""
    with holding(lock):
        conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()


@contextmanager
def holding(lock: int | None):
    """An exclusive flock on `lock` (a `writers_lock` descriptor) for the block; nothing for None."""
    if lock is None:
        yield
        return
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)


def writers_lock(path: str) -> int | None:
    """The lock file beside the database that the writer processes of that file take turns on
    (None where it cannot be made: then SQLite's own wait alone)."""
    try:
        return os.open(path + ".writers-lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        return None


def read_message(stream) -> object | None:
    """One length-prefixed pickle, or None at the end of the stream."""
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (size,) = HEADER.unpack(header)
    body = stream.read(size)
    if len(body) < size:
        return None
    return pickle.loads(body)


def frame(message: object) -> bytes:
    """A message as it goes over the pipe: its pickle's length, then the pickle."""
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(body)) + body


def write_message(stream, message: object) -> None:
    stream.write(frame(message))
    stream.flush()


def main(path: str, checkpoint_s: float = CHECKPOINT_INTERVAL_S, restart_pages: float = WAL_RESTART_PAGES) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    conn = sqlite3.connect(path, isolation_level=None)
    sqlite_pragmas(conn)
    lock = writers_lock(path)
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute(f"PRAGMA journal_size_limit={WAL_KEEP_BYTES}")
    checkpoint_in_background(path, checkpoint_s, int(restart_pages))
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    try:
        while True:
            plan = read_message(inp)
            if plan is None:
                return 0
            try:
                reply = ("ok", write_plan(conn, plan, lock))
            except Exception as exc:  # the worker retries the flush; this process keeps serving
                reply = ("error", type(exc).__name__, str(exc))
            try:
                write_message(out, reply)
            except (BrokenPipeError, OSError):
                return 0  # the worker went away
    finally:
        conn.close()
        if lock is not None:
            os.close(lock)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], *map(float, sys.argv[2:4])))
