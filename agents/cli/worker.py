"""`salespulse worker` and `salespulse db upgrade`."""

from __future__ import annotations

import click

from agents.cli.options import broker_option, database_option, flavour_option, prefix_option, settings_from


@click.command()
@broker_option
@flavour_option
@database_option
@prefix_option
@click.option("--web-host", default=None, help="bind address of /metrics, /health and the API")
@click.option("--web-port", type=int, default=None, help="port of /metrics, /health and the API")
@click.option("--log-level", default=None, help="DEBUG, INFO, WARNING (default) or ERROR")
def worker(broker, flavour, database, topic_prefix, web_host, web_port, log_level) -> None:
    """Run a stream worker (all agents); add workers to scale out."""
    from agents import build_worker
    from pipeline.worker import run_worker

    s = settings_from(broker, database, flavour, web_port, web_host, topic_prefix)
    if log_level:
        s = s.model_copy(update={"worker": s.worker.model_copy(update={"log_level": log_level})})
    run_worker(s, lambda settings: build_worker(settings).rt)


@click.group()
def db() -> None:
    """Database schema management."""


@db.command()
@database_option
@click.option("--revision", default="head", show_default=True)
def upgrade(database, revision) -> None:
    """Apply migrations up to REVISION (creates the schema on a new database)."""
    from pipeline.db.migrate import upgrade_url

    s = settings_from(database=database)
    upgrade_url(s.database.url, revision)
    click.echo(f"database at revision {revision}")


commands = [worker, db]
