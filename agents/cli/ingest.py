"""`salespulse ingest token`: API tokens for POST /events (the worker stores only their SHA-256)."""

from __future__ import annotations

import json
import secrets

import click

from schemas.events import Channel


@click.group("ingest")
def ingest_group() -> None:
    """HTTP ingestion (POST /events) for channels that cannot write to Kafka."""


@ingest_group.command()
@click.option("--channel", type=click.Choice([c.value for c in Channel]), required=True,
              help="the only channel this token may submit events for")
def token(channel: str) -> None:
    """Make a new token: give the token to the channel team, put the sha256 into the worker's settings."""
    from pipeline.tokens import hash_token

    value = secrets.token_urlsafe(32)
    digest = hash_token(value)
    click.echo(f"token:        {value}")
    click.echo(f"token_sha256: {digest}")
    click.echo(f"setting:      SALESPULSE_INGEST_HTTP__TOKENS_SHA256='{json.dumps({channel: [digest]})}'")


commands = [ingest_group]
