"""Options shared by CLI commands and how they become Settings."""

from __future__ import annotations

import click

from pipeline.settings import Settings


def settings_from(broker: str | None = None, database: str | None = None, flavour: str | None = None,
                  web_port: int | None = None, web_host: str | None = None, topic_prefix: str | None = None,
                  **extra) -> Settings:
    """Environment / .env first, command-line options override."""
    s = Settings()
    kafka = {}
    if broker:
        kafka["broker"] = broker if broker.startswith("kafka://") else f"kafka://{broker}"
    if flavour:
        kafka["flavour"] = flavour
    updates: dict = {}
    if kafka:
        updates["kafka"] = s.kafka.model_copy(update=kafka)
    if database:
        updates["database"] = s.database.model_copy(update={"url": database})
    web = {k: v for k, v in (("port", web_port), ("host", web_host)) if v is not None}
    if web:
        updates["web"] = s.web.model_copy(update=web)
    if topic_prefix is not None:
        updates["topic_prefix"] = topic_prefix
    return s.model_copy(update=updates) if updates else s


broker_option = click.option("--broker", "-b", help="Kafka bootstrap host:port (default: SALESPULSE_KAFKA__BROKER)")
flavour_option = click.option("--flavour", type=click.Choice(["kafka", "tansu"]), help="broker quirks to apply")
database_option = click.option("--database", "--db", help="SQLAlchemy async URL (default: SALESPULSE_DATABASE__URL)")
prefix_option = click.option("--topic-prefix", default=None, help="prefix for every topic name")


def run_db(database: str | None, fn):
    """Run `await fn(engine, settings)` against the configured database; failures become one line."""
    import asyncio

    from pipeline.db.engine import make_engine
    from pipeline.errors import UserInputError

    s = settings_from(database=database)

    async def _main():
        engine = make_engine(s.database)
        try:
            return await fn(engine, s)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(_main())
    except UserInputError:
        raise
    except Exception as exc:
        raise UserInputError(f"database {s.database.url.split('@')[-1]}: {type(exc).__name__}: {str(exc)[:200]}") from None
