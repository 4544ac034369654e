"""`salespulse coaching list|assign|done|simulate`: coaching items and training assignments from the command line."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import click

from agents.cli.options import database_option, run_db, settings_from
from pipeline.errors import UserInputError

STATES = ("open", "all", "assigned", "done", "recovered")
CONFIG = click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
                      help="Training config (default: config/training.yaml, or SALESPULSE_PATHS__TRAINING).")


def _config(config_path: Path | None):
    from agents.performance.coaching import load_training

    return load_training(config_path or settings_from().paths.resolve("training", "training.yaml"))


def _directory():
    from agents.escalation.policy import load_policy

    paths = settings_from().paths
    return load_policy(paths.resolve("escalation_policy", "escalation.yaml"),
                       paths.resolve("directory", "directory.yaml")).directory


@click.group()
def coaching() -> None:
    """Coaching: reps behind their team on a metric, the training their lead assigns, before and after."""


@coaching.command(name="list")
@database_option
@click.option("--state", type=click.Choice(STATES), default="open", show_default=True,
              help="open (open or assigned), all, or one state")
@click.option("--rep", default=None, help="only this rep")
@click.option("--team", default=None, help="only this team")
@click.option("--json", "as_json", is_flag=True, help="JSON lines instead of a table")
@CONFIG
def list_(database, state, rep, team, as_json, config_path) -> None:
    """List coaching items, oldest first."""
    from agents.performance.coaching_store import list_items

    cfg = _config(config_path)
    rows = run_db(database, lambda engine, _s: list_items(engine, state, cfg=cfg, rep=rep, team=team, limit=10_000))
    if as_json:
        for r in rows:
            click.echo(json.dumps(r, ensure_ascii=False))
        return
    if not rows:
        click.echo(f"no {state} coaching items")
        return
    click.echo(f"{'ID':36} {'REP':10} {'TEAM':12} {'METRIC':22} {'STATE':9} {'VALUE':>7} {'PEERS':>7} {'NOW':>7} TOPIC")
    for r in rows:
        now = "-" if r["current_value"] is None else f"{r['current_value']:.3g}"
        click.echo(f"{r['id']:36} {r['rep'][:10]:10} {r['team'][:12]:12} {r['metric']:22} {r['state']:9} "
                   f"{r['opened_value']:7.3g} {r['opened_median']:7.3g} {now:>7} {r['topic']}")


def _act(action: str, item_id: str, by: str, topic: str | None, database: str | None, config_path) -> None:
    from agents.performance.coaching_web import act

    cfg = _config(config_path)
    directory = _directory()
    person = directory.person(by)
    if person is None:
        raise UserInputError(f"--by {by!r} is nobody in the directory")
    status, out = run_db(database, lambda engine, _s: act(engine, cfg, directory, person, item_id, action, topic,
                                                          datetime.now(timezone.utc)))
    if status != 200:
        raise UserInputError(out["error"])
    click.echo(json.dumps(out, ensure_ascii=False))


@coaching.command(name="assign")
@click.argument("item_id")
@click.option("--by", required=True, help="who assigns the training (a person id from the directory)")
@click.option("--topic", default=None, help="a topic id of the training config (default: the item's)")
@database_option
@CONFIG
def assign(item_id, by, topic, database, config_path) -> None:
    """Assign training for open ITEM_ID; the metric as last observed is kept as `before`."""
    _act("assign", item_id, by, topic, database, config_path)


@coaching.command(name="done")
@click.argument("item_id")
@click.option("--by", required=True, help="who marks it done (the rep, their lead or manager)")
@database_option
@CONFIG
def done(item_id, by, database, config_path) -> None:
    """Mark the training of ITEM_ID done; the metric as last observed is kept as `after`."""
    _act("done", item_id, by, None, database, config_path)


@coaching.command(name="simulate")
@click.option("--observations", "path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="JSON Lines of {at, rep, metric, value}: each distinct `at` is one observation")
@CONFIG
def simulate(path: Path, config_path: Path | None) -> None:
    """Run observations through the worker's coaching core offline (teams from the directory); print a JSON line
    per item that would open (rep, team, metric, topic, value, median) and per open item that would recover."""
    from agents.performance.coaching import members_of
    from agents.performance.coaching_replay import read_observations, simulate as run

    cfg = _config(config_path)
    members = members_of(_directory().people)
    for out in run(cfg, members, read_observations(path)):
        click.echo(json.dumps(out, ensure_ascii=False))


commands = [coaching]
