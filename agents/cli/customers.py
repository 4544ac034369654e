"""`salespulse customers replay` / `salespulse kpis replay`: JSON-lines events -> profiles / KPIs as JSON, offline."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click

from pipeline.errors import UserInputError

FILES = click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
CURRENCIES = click.option("--currencies", "currencies_path", type=click.Path(dir_okay=False, path_type=Path),
                          help="Reporting currency and exchange rates (default: config/currencies.yaml, or "
                               "SALESPULSE_PATHS__CURRENCIES).")
NOW = click.option("--now", "now_text", metavar="ISO8601",
                   help="Evaluate recency, churn and pace at this time (default: the latest occurred_at seen).")


def _parse_now(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        now = datetime.fromisoformat(text)
    except ValueError:
        raise UserInputError(f"--now {text!r} is not an ISO 8601 date-time") from None
    if now.tzinfo is None:
        raise UserInputError(f"--now {text!r} needs a timezone, e.g. {text}+00:00")
    return now


def _reader(files):
    from agents.customers.replay import read_events

    errors: list[str] = []

    def report(msg: str) -> None:
        errors.append(msg)
        click.echo(f"invalid event at {msg}", err=True)

    return read_events(files, report), errors


@click.group(name="customers")
def customers_group() -> None:
    """Customer profiles: RFM, churn risk, follow-ups."""


@customers_group.command(name="replay")
@FILES
@NOW
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Follow-up/scoring config (default: config/followup.yaml).")
@CURRENCIES
def customers_replay(files: tuple[Path, ...], now_text: str | None, config_path: Path | None,
                     currencies_path: Path | None) -> int:
    """Replay order / feedback / incident events from JSON-lines FILES; print one JSON profile per customer.

    Amounts are in the reporting currency, each converted at the rate of its event's time; orders no
    rate covers are listed under `unconverted`, per currency. Funnel and campaign events are accepted
    and skipped. Invalid lines are reported on stderr with their line number and skipped; the exit code
    is then 1. A bad currencies file is one line on stderr, exit code 2.
    """
    from agents.cli.options import settings_from
    from agents.customers import CustomerBook, load_followup_config
    from agents.customers.replay import feedback_classifier
    from pipeline.currency import load_rates
    from schemas.events import FeedbackEvent, IncidentEvent, OrderEvent

    now = _parse_now(now_text)
    params = (load_followup_config(config_path) if config_path else load_followup_config()).scoring
    rates = load_rates(currencies_path or settings_from().paths.resolve("currencies", "currencies.yaml"))
    book, classify = CustomerBook(params, rates=rates), feedback_classifier()
    events, errors = _reader(files)
    latest = None
    for e in events:
        latest = e.occurred_at if latest is None or e.occurred_at > latest else latest
        if isinstance(e, OrderEvent):
            book.order(e)
        elif isinstance(e, FeedbackEvent):
            c = classify(e)
            book.feedback(e.customer_id, e.event_id, e.occurred_at, c.sentiment_score, c.negative, c.category)
        elif isinstance(e, IncidentEvent):
            book.incident(e)
    as_of = now or latest
    if as_of is not None:
        for snap in book.snapshots(as_of):
            click.echo(json.dumps(snap.model_dump(mode="json", exclude={"event_type", "schema_version"}),
                                  ensure_ascii=False))
    return 1 if errors else 0


@click.group(name="kpis")
def kpis_group() -> None:
    """Sales KPIs per channel, region, rep, team and campaign."""


@kpis_group.command(name="replay")
@FILES
@NOW
@click.option("--window", "windows", multiple=True, type=click.Choice(["hour", "day", "month", "total"]),
              default=("total", "month"), show_default=True, help="Window granularities to print (repeatable).")
@click.option("--targets", "targets_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Targets file, in the reporting currency (default: config/targets.yaml, or SALESPULSE_PATHS__TARGETS).")
@CURRENCIES
def kpis_replay(files: tuple[Path, ...], now_text: str | None, windows: tuple[str, ...],
                targets_path: Path | None, currencies_path: Path | None) -> int:
    """Replay order / funnel / campaign-spend events from JSON-lines FILES; print the KPIs as one JSON object.

    Amounts are converted into the reporting currency at the rate of each event's time; amounts no rate
    covers are listed under `unconverted`, per currency. Feedback and incident events are accepted and
    skipped. Invalid lines are reported on stderr with their line number and skipped; the exit code is
    then 1. A bad currencies or targets file is one line on stderr, exit code 2.
    """
    from agents.kpis import KpiState, apply_funnel, apply_order, apply_spend, kpi_snapshots, load_rates, load_targets
    from agents.cli.options import settings_from
    from schemas.events import CampaignSpendEvent, FunnelEvent, OrderEvent

    now = _parse_now(now_text)
    paths = settings_from().paths
    rates = load_rates(currencies_path or paths.resolve("currencies", "currencies.yaml"))
    targets = load_targets(targets_path or paths.resolve("targets", "targets.yaml"), rates.reporting_currency)
    state = KpiState(rates, targets.rep_team)
    events, errors = _reader(files)
    latest = None
    for e in events:
        latest = e.occurred_at if latest is None or e.occurred_at > latest else latest
        if isinstance(e, OrderEvent):
            apply_order(state, e)
        elif isinstance(e, FunnelEvent):
            apply_funnel(state, e)
        elif isinstance(e, CampaignSpendEvent):
            apply_spend(state, e)
    as_of = now or latest
    out = {"as_of": as_of.isoformat() if as_of else None, "currency": rates.reporting_currency, "windows": {}}
    if as_of is not None:
        for g in windows:
            out["windows"][g] = [s.model_dump(mode="json", exclude={"event_type", "schema_version", "event_id",
                                                                      "occurred_at"})
                                 for s in kpi_snapshots(state, g, as_of, targets)]
    click.echo(json.dumps(out, ensure_ascii=False))
    return 1 if errors else 0


commands = [customers_group, kpis_group]
