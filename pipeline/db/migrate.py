"""Schema migrations (Alembic) run programmatically: `salespulse db upgrade`."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database to `revision`; workers starting together take turns (a lock per database)."""

    def _do(connection) -> None:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7305431)")  # held until commit
        cfg = alembic_config(str(engine.url.render_as_string(hide_password=False)))
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)

    lock = _sqlite_lock(engine)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_do)
    finally:
        if lock is not None:
            lock.close()


def _sqlite_lock(engine: AsyncEngine):
    """An exclusive file lock beside a SQLite database file (None for other databases)."""
    import fcntl

    db = engine.url.database
    if engine.dialect.name != "sqlite" or not db or db == ":memory:":
        return None
    handle = open(f"{db}.migrate.lock", "w")
    fcntl.flock(handle, fcntl.LOCK_EX)
    return handle


def upgrade_url(url: str, revision: str = "head") -> None:
    from pipeline.db.engine import make_engine
    from pipeline.settings import DatabaseSettings

    async def _main() -> None:
        engine = make_engine(DatabaseSettings(url=url))
        try:
            await upgrade(engine, revision)
        finally:
            await engine.dispose()

    asyncio.run(_main())
