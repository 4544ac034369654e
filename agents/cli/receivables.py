"""`salespulse receivables replay FILE... --now T`: JSON-lines order events -> the overdue receivables the worker
would raise by T (and, with --ageing, their ageing), through the same core (agents.receivables.core)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import orjson

from agents.cli.customers import CURRENCIES, FILES, _parse_now, _reader


@click.group(name="receivables")
def receivables_group() -> None:
    """Invoiced orders: what is owed, by when, and what is overdue."""


@receivables_group.command(name="replay")
@FILES
@click.option("--now", "now_text", metavar="ISO8601", required=True,
              help="Sweep at this time; events that occurred later are left out.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Receivables config (default: config/receivables.yaml, or SALESPULSE_PATHS__RECEIVABLES).")
@click.option("--directory", "directory_path", type=click.Path(dir_okay=False, path_type=Path),
              help="People: teams of reps, finance by region (default: config/directory.yaml, or SALESPULSE_PATHS__DIRECTORY).")
@CURRENCIES
@click.option("--ageing", is_flag=True, help="Print the ageing of the open receivables at --now instead (one JSON object).")
def receivables_replay(files: tuple[Path, ...], now_text: str, config_path: Path | None, directory_path: Path | None,
                       currencies_path: Path | None, ageing: bool) -> int:
    """Replay the order events of JSON-lines FILES in file order and sweep once at --now: one JSON line per
    receivable the worker would raise as overdue (customer_id, order_id, reason "payment_overdue", owner, team,
    region, finance (the people told), due_at, state, event "raised"). The owner is the order's sales_rep_id
    (the customer's profile is not consulted offline). Invalid lines are reported on stderr with their line
    number and skipped; the exit code is then 1. A bad config file is one line on stderr, exit code 2."""
    from agents.cli.options import settings_from
    from agents.escalation.policy import DEFAULT_POLICY, load_policy
    from agents.receivables.config import load_receivables_config
    from agents.receivables.core import Owner, ReceivablesBook
    from agents.receivables.web import plain
    from agents.receivables.core import ageing as age
    from pipeline.currency import load_rates
    from schemas.events import OrderEvent

    now = _parse_now(now_text)
    paths = settings_from().paths
    cfg = load_receivables_config(config_path or paths.resolve("receivables", "receivables.yaml"))
    rates = load_rates(currencies_path or paths.resolve("currencies", "currencies.yaml"))
    directory = load_policy(paths.escalation_policy or DEFAULT_POLICY,
                            directory_path or paths.resolve("directory", "directory.yaml")).directory
    book = ReceivablesBook(cfg.payment_terms_days, rates.convert)
    events, errors = _reader(files)
    for e in events:
        if isinstance(e, OrderEvent) and e.occurred_at <= now and book.wants(e):
            person = directory.person(e.sales_rep_id)
            book.order(e, Owner(e.sales_rep_id, person.team if person else None,
                                e.region or (person.region if person else None)))
    out = sys.stdout.buffer
    if ageing:
        out.write(orjson.dumps({"as_of": now.isoformat(), "currency": rates.reporting_currency,
                                **plain(age(book.by_order.values(), now))}) + b"\n")
    else:
        for r in book.sweep(now):
            finance = [p.id for p in directory.resolve(cfg.overdue.finance_role, region=r.region)]
            out.write(orjson.dumps({"customer_id": r.customer_id, "order_id": r.order_id, "reason": "payment_overdue",
                                    "owner": r.rep, "team": r.team, "region": r.region, "finance": finance,
                                    "due_at": r.due_at.isoformat(), "state": r.state, "event": "raised"}) + b"\n")
    out.flush()
    return 1 if errors else 0


commands = [receivables_group]
