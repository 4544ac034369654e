"""`salespulse followups list|start|done|snooze|dismiss|replay`: follow-ups from the command line."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import click

from agents.cli.options import database_option, run_db, settings_from
from pipeline.errors import UserInputError

STATES = ("open", "all", "in_progress", "done", "snoozed", "dismissed")


@click.group(name="followups")
def followups() -> None:
    """Follow-up tasks: list them; start, finish, snooze or dismiss one; replay what events would raise."""


def _directory():
    from agents.escalation.directory import Directory
    from pipeline.configfile import load_yaml

    return load_yaml(settings_from().paths.resolve("directory", "directory.yaml"), Directory)


@followups.command(name="list")
@database_option
@click.option("--state", default="open", show_default=True, type=click.Choice(STATES),
              help="open (= open and in_progress), all, or one state")
@click.option("--by", "person", default=None, help="only what this person (directory id) may see")
@click.option("--mine", is_flag=True, help="only those assigned to --by")
@click.option("--json", "as_json", is_flag=True, help="JSON lines (the GET /followups row) instead of a table")
def list_(database, state, person, mine, as_json) -> None:
    """List follow-ups from the database, soonest due first."""
    from agents.followups import store

    reader = None
    if person or mine:
        if not person:
            raise UserInputError("--mine needs --by PERSON")
        reader = _directory().person(person)
        if reader is None:
            raise UserInputError(f"--by {person!r} is nobody in the directory")

    rows = run_db(database, lambda engine, s: store.list_followups(engine, state, reader, mine, limit=5000))
    if as_json:
        for r in rows:
            click.echo(json.dumps(store.as_api(r), ensure_ascii=False))
        return
    if not rows:
        click.echo(f"no {state} follow-ups")
        return
    click.echo(f"{'ID':36} {'CUSTOMER':20} {'REASON':18} {'ASSIGNEE':16} {'STATE':11} DUE")
    for r in rows:
        click.echo(f"{r['event_id']:36} {r['customer_id'][:20]:20} {r['reason'][:18]:18} {r['assignee'][:16]:16} "
                   f"{r['state']:11} {r['due_at'].isoformat()}")


def _act(action: str, followup_id: str, by: str, database, body: dict) -> None:
    from agents.followups.web import act
    from pipeline.runtime import now_utc

    actor = _directory().person(by)
    if actor is None:
        raise UserInputError(f"--by {by!r} is nobody in the directory")
    status, out = run_db(database, lambda engine, s: act(engine, actor, followup_id, action, body, now_utc()))
    if status != 200:
        raise UserInputError(out["error"])
    click.echo(f"{followup_id}: {out['state']}")


@followups.command(name="start")
@click.argument("followup_id")
@click.option("--by", required=True, help="who acts (a person id from the directory)")
@database_option
def start(followup_id, by, database) -> None:
    """Mark FOLLOWUP_ID in progress."""
    _act("start", followup_id, by, database, {})


@followups.command(name="done")
@click.argument("followup_id")
@click.option("--by", required=True, help="who acts (a person id from the directory)")
@database_option
def done(followup_id, by, database) -> None:
    """Mark FOLLOWUP_ID done (final)."""
    _act("done", followup_id, by, database, {})


@followups.command(name="snooze")
@click.argument("followup_id")
@click.option("--by", required=True, help="who acts (a person id from the directory)")
@click.option("--until", "until", required=True, metavar="ISO8601", help="when it opens again (with a timezone)")
@database_option
def snooze(followup_id, by, until, database) -> None:
    """Put FOLLOWUP_ID aside until a time; the sweep opens it again then."""
    _act("snooze", followup_id, by, database, {"until": until})


@followups.command(name="dismiss")
@click.argument("followup_id")
@click.option("--by", required=True, help="who acts (a person id from the directory)")
@click.option("--reason", required=True, help="why it needs no action")
@database_option
def dismiss(followup_id, by, reason, database) -> None:
    """Dismiss FOLLOWUP_ID with a reason (final)."""
    _act("dismiss", followup_id, by, database, {"reason": reason})


@followups.command(name="replay")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--now", "now_text", required=True, metavar="ISO8601", help="replay up to this time (virtual clock)")
@click.option("--sweep-every", type=float, default=None, metavar="SECONDS",
              help="virtual time between sweeps (default: lifecycle.sweep_interval_s of the config)")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Follow-up config (default: config/followup.yaml, or SALESPULSE_PATHS__FOLLOWUP).")
def replay(files, now_text, sweep_every, config_path) -> int:
    """Replay JSON-lines FILES on a virtual clock up to --now; print what would be raised or escalated as JSON
    lines {customer_id, reason, owner, due_at, state, event}. Invalid lines are reported on stderr and skipped
    (exit code 1)."""
    from agents.cli.customers import _parse_now, _reader
    from agents.customers import load_followup_config
    from agents.customers.replay import feedback_classifier
    from agents.followups.replay import FollowUpReplay
    from pipeline.currency import load_rates

    now = _parse_now(now_text)
    paths = settings_from().paths
    cfg = load_followup_config(config_path or paths.resolve("followup", "followup.yaml"))
    if sweep_every is not None and sweep_every <= 0:
        raise UserInputError("--sweep-every must be above 0")
    rates = load_rates(paths.resolve("currencies", "currencies.yaml"))
    r = FollowUpReplay(cfg, _directory(), rates, timedelta(seconds=sweep_every) if sweep_every else None)
    events, errors = _reader(files)
    for out in r.run(list(events), now, feedback_classifier()):
        click.echo(json.dumps(out, ensure_ascii=False))
    return 1 if errors else 0


commands = [followups]
