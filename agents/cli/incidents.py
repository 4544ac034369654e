"""`salespulse incidents list|ack|resolve`: the escalation board from the command line."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone

import click

from agents.cli.options import broker_option, database_option, prefix_option, settings_from
from pipeline.errors import UserInputError


@click.group()
def incidents() -> None:
    """Open incidents; acknowledge or resolve them."""


@incidents.command(name="list")
@database_option
@click.option("--state", default="open", show_default=True, help="open, all, triggered, acknowledged, merged, resolved")
@click.option("--json", "as_json", is_flag=True, help="JSON lines instead of a table")
def list_(database, state, as_json) -> None:
    """List incidents from the database."""
    from agents.escalation.web import list_incidents
    from pipeline.db.engine import make_engine

    if state not in ("open", "all", "triggered", "acknowledged", "merged", "resolved"):
        raise UserInputError(f"--state must be open, all or a status, not {state!r}")
    s = settings_from(database=database)

    async def _q():
        engine = make_engine(s.database)
        try:
            return await list_incidents(engine, None if state == "all" else state, limit=1000)
        finally:
            await engine.dispose()

    try:
        rows = asyncio.run(_q())
    except Exception as exc:
        raise UserInputError(f"cannot read incidents from {s.database.url.split('@')[-1]}: {type(exc).__name__}") from None
    if as_json:
        for r in rows:
            click.echo(json.dumps(r, ensure_ascii=False))
        return
    if not rows:
        click.echo(f"no {state} incidents")
        return
    click.echo(f"{'KEY':32} {'STATUS':13} {'SEVERITY':9} {'LEVEL':16} {'COUNT':>5}  DEADLINE")
    for r in rows:
        click.echo(f"{r['incident_key'][:32]:32} {r['status']:13} {r['severity']:9} "
                   f"{str(r['level']) + ' ' + r['level_name']:16} {r['count']:>5}  {r['next_deadline'] or '-'}")


def _send(kind: str, key: str, by: str, comment: str | None, broker, topic_prefix) -> None:
    from pipeline import topics as T
    from pipeline.emitter import Emitter
    from schemas.escalation import IncidentCommand

    s = settings_from(broker=broker, topic_prefix=topic_prefix)
    cmd = IncidentCommand(occurred_at=datetime.now(timezone.utc), type=kind, incident_key=key, by=by, comment=comment)
    with Emitter.from_settings(s) as em:
        em.emit_raw(T.INCIDENT_COMMANDS.name, cmd.model_dump_json().encode(), key=key.encode())
    click.echo(f"{kind} of {key} by {by} sent")


for _kind, _help in (("ack", "Acknowledge KEY: stops its escalation."), ("resolve", "Resolve KEY: closes it.")):
    def _make(kind: str, help_: str):
        @incidents.command(name=kind, help=help_)
        @click.argument("key")
        @click.option("--by", required=True, help="who acts (a person id from the directory)")
        @click.option("--comment", default=None)
        @broker_option
        @prefix_option
        def _cmd(key, by, comment, broker, topic_prefix) -> None:
            _send(kind, key, by, comment, broker, topic_prefix)
        return _cmd
    _make(_kind, _help)

commands = [incidents]
