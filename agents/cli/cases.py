"""`salespulse cases list|respond|resolve|replay`: after-sales cases from the command line."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import click

from agents.cli.customers import FILES, _parse_now, _reader
from agents.cli.options import database_option, run_db, settings_from
from pipeline.errors import UserInputError

STATES = ("open", "all", "responded", "resolved")


@click.group()
def cases() -> None:
    """After-sales cases: list them, respond to or resolve one, replay events offline."""


@cases.command(name="list")
@database_option
@click.option("--state", type=click.Choice(STATES), default="open", show_default=True,
              help="open (not resolved), all, or one state")
@click.option("--owner", default=None, help="only this owner (a person id, or queue:<department>)")
@click.option("--json", "as_json", is_flag=True, help="JSON lines instead of a table")
def list_(database, state, owner, as_json) -> None:
    """List cases, soonest resolution due first."""
    from agents.cases.store import list_cases

    rows = run_db(database, lambda engine, _s: list_cases(engine, state, limit=10_000))
    rows = [r for r in rows if owner is None or r["owner"] == owner]
    if as_json:
        for r in rows:
            click.echo(json.dumps(r, ensure_ascii=False))
        return
    if not rows:
        click.echo(f"no {state} cases")
        return
    click.echo(f"{'ID':36} {'CUSTOMER':16} {'CATEGORY':15} {'STATE':9} {'OWNER':20} {'BREACH':14} RESOLUTION DUE")
    for r in rows:
        click.echo(f"{r['id']:36} {r['customer_id'][:16]:16} {r['category']:15} {r['state']:9} {r['owner'][:20]:20} "
                   f"{r['breach'] or '-':14} {r['resolution_due']}")


def _act(kind: str, case_id: str, by: str, database: str | None) -> None:
    from agents.cases import store
    from agents.escalation.policy import load_policy

    paths = settings_from().paths
    directory = load_policy(paths.resolve("escalation_policy", "escalation.yaml"),
                            paths.resolve("directory", "directory.yaml")).directory
    person = directory.person(by)
    if person is None:
        raise UserInputError(f"--by {by!r} is nobody in the directory")

    async def _do(engine, _s):
        row = await store.get(engine, case_id)
        if row is None:
            raise UserInputError(f"no case {case_id!r}")
        if not store.may_act(person, row, directory):
            raise UserInputError(f"{by} may not {kind} case {case_id} of {row['owner']} "
                                 f"(region {row['region'] or 'none'}): outside their scope")
        return await store.act(engine, case_id, kind, datetime.now(timezone.utc))

    outcome, after = run_db(database, _do)
    if outcome == "missing":
        raise UserInputError(f"no case {case_id!r}")
    if outcome == "conflict":
        raise UserInputError(f"cannot {kind} case {case_id}: it is {after['state']}")
    click.echo(json.dumps(store.view(after), ensure_ascii=False))


@cases.command(name="respond")
@click.argument("case_id")
@click.option("--by", required=True, help="who answered the customer (a person id from the directory)")
@database_option
def respond(case_id, by, database) -> None:
    """Mark CASE_ID responded: the customer got a first answer (stops its first-response SLA)."""
    _act("respond", case_id, by, database)


@cases.command(name="resolve")
@click.argument("case_id")
@click.option("--by", required=True, help="who resolved it (a person id from the directory)")
@database_option
def resolve(case_id, by, database) -> None:
    """Resolve CASE_ID: the next complaint of the customer in its category opens a new case."""
    _act("resolve", case_id, by, database)


@cases.command(name="replay")
@FILES
@click.option("--now", "now_text", metavar="ISO8601",
              help="Find the SLAs missed by this time (default: the latest occurred_at seen).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Cases config (default: config/cases.yaml, or SALESPULSE_PATHS__CASES).")
def replay(files: tuple[Path, ...], now_text: str | None, config_path: Path | None) -> int:
    """Replay order and feedback events from JSON-lines FILES through the worker's case core; print a JSON
    line per case opened and per SLA missed by --now: customer_id, category, owner, due_at, state, event
    (opened | breached), sla, case_id.

    Feedback is classified by the worker's classifier; the owner comes from the orders' reps, as the
    worker's customer context. Invalid lines are reported on stderr and skipped; the exit code is then 1.
    """
    from agents.cases.config import load_cases_config
    from agents.cases.core import CaseCore
    from agents.cases.replay import replay as run
    from agents.customers import CustomerBook, load_followup_config
    from agents.customers.agent import routing_context
    from agents.escalation.policy import load_policy
    from agents.feedback.classifier import Classifier
    from agents.feedback.core import FeedbackCore
    from agents.feedback.incidents import incident_key_of
    from pipeline.currency import load_rates

    now = _parse_now(now_text)
    s = settings_from()
    paths = s.paths
    policy = load_policy(paths.resolve("escalation_policy", "escalation.yaml"),
                         paths.resolve("directory", "directory.yaml"))
    cfg, calendar = load_cases_config(config_path or paths.resolve("cases", "cases.yaml"), policy.config.calendars)
    core = CaseCore(cfg, calendar, policy.directory)
    book = CustomerBook(load_followup_config(paths.resolve("followup", "followup.yaml")).scoring,
                        rates=load_rates(paths.resolve("currencies", "currencies.yaml")))
    feedback = FeedbackCore(Classifier.from_config(paths.classifier_dir), raise_high=s.worker.raise_high_feedback)

    def context(customer_id: str, at: datetime):
        p = book.profiles.get(customer_id)
        return routing_context(book, p, at) if p is not None else None

    events, errors = _reader(files)
    for out in run(events, core, now, classify=lambda e: feedback.process(e, e.occurred_at).classified,
                   context=context, on_order=book.order,
                   incident_key_of=lambda cf: incident_key_of(cf, raise_high=s.worker.raise_high_feedback)):
        click.echo(json.dumps(out, ensure_ascii=False))
    return 1 if errors else 0


commands = [cases]
