"""The async engine for SQLite (embedded default) or PostgreSQL, and idempotent upserts."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import orjson
from sqlalchemy import Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from pipeline.db.sqlite_child import sqlite_pragmas
from pipeline.settings import DatabaseSettings


def json_loads(text: str | bytes):
    """JSON columns as read: by orjson (several times the standard library's speed; a worker
    reads every profile's state on assignment); what orjson refuses (NaN) by the standard library.
    Unlike the standard library orjson reads an integer over 64 bits as a float: none is stored
    (amounts are integers of 1/10,000, times microseconds)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def make_engine(settings: DatabaseSettings) -> AsyncEngine:
    url = settings.url
    if settings.is_sqlite:
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, echo=settings.echo, connect_args={"timeout": 30}, json_deserializer=json_loads)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:
            sqlite_pragmas(dbapi_conn)

        return engine
    return create_async_engine(
        url, echo=settings.echo, pool_size=settings.pool_size, pool_pre_ping=True, json_deserializer=json_loads,
        connect_args={"timeout": 10, "command_timeout": 30},
    )


def upsert_statement(dialect: str, table: Table, conflict: Sequence[str], update: Iterable[str] | None):
    """INSERT ... ON CONFLICT (conflict) DO NOTHING, or DO UPDATE SET the `update` columns."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table)
    update = list(update or ())
    if not update:
        return stmt.on_conflict_do_nothing(index_elements=list(conflict))
    return stmt.on_conflict_do_update(
        index_elements=list(conflict), set_={c: stmt.excluded[c] for c in update}
    )


def dedupe_rows(rows: list[dict], conflict: Sequence[str]) -> list[dict]:
    """Last row per conflict key wins: PostgreSQL refuses to update one row twice in a statement."""
    if len(rows) < 2:
        return rows
    seen: dict[tuple, dict] = {}
    for row in rows:
        seen[tuple(row[c] for c in conflict)] = row
    return list(seen.values())
