"""`salespulse customers show ID` and `salespulse kpis show`: what the workers keep in SQL."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import click

from agents.cli.customers import customers_group, kpis_group
from agents.cli.options import database_option, run_db
from pipeline.errors import UserInputError


@customers_group.command(name="show")
@click.argument("customer_id")
@database_option
def show(customer_id, database) -> None:
    """Print the profile of CUSTOMER_ID as JSON, RFM scored against every customer (the same read as
    GET /customers/{id}: one profile row and the RFM histograms the workers keep)."""
    from agents.customers.config import load_followup_config
    from agents.customers.web import customer_view
    from pipeline.currency import load_rates

    async def go(engine, s):
        params = load_followup_config(s.paths.resolve("followup", "followup.yaml")).scoring
        currency = load_rates(s.paths.resolve("currencies", "currencies.yaml")).reporting_currency
        return await customer_view(engine, customer_id, datetime.now(timezone.utc), params, currency=currency)

    view = run_db(database, go)
    if view is None:
        raise UserInputError(f"no customer {customer_id!r}")
    click.echo(json.dumps(view, ensure_ascii=False, indent=2))


@kpis_group.command(name="show")
@database_option
@click.option("--window", "windows", multiple=True, type=click.Choice(["hour", "day", "month", "total"]),
              default=("total", "month"), show_default=True)
def kpis_show(database, windows) -> None:
    """Print the KPIs of every event in the database as JSON (same code as `kpis replay`), with the
    receivables ageing (open invoiced orders by days past due, per team and region)."""
    from agents.kpis.web import kpi_view
    from agents.kpis import load_rates, load_targets
    from agents.receivables.web import receivables_ageing

    async def go(engine, s):
        rates = load_rates(s.paths.resolve("currencies", "currencies.yaml"))
        targets = load_targets(s.paths.resolve("targets", "targets.yaml"), rates.reporting_currency)
        now = datetime.now(timezone.utc)
        view = await kpi_view(engine, now, tuple(windows), targets, rates)
        return {**view, "receivables": await receivables_ageing(engine, now, rates.reporting_currency)}

    from agents.kpis.report import dumps
    click.echo(dumps(run_db(database, go)).decode())


commands: list = []
