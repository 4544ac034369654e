"""`salespulse incentives statement|check`: JSON-lines order events + a plan -> one rep's incentive statement as
JSON (agents.performance.incentives), offline; or a plan file checked."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path

import click
import orjson

from agents.cli.customers import CURRENCIES
from pipeline.errors import UserInputError

PLAN_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
DIRECTORY = click.option("--directory", "directory_path", type=click.Path(dir_okay=False, path_type=Path),
                         help="People, roles and teams the plans apply to (default: config/directory.yaml, or "
                              "SALESPULSE_PATHS__DIRECTORY).")


def _amount(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        d = Decimal(text)
    except InvalidOperation:
        raise UserInputError(f"--target {text!r} is not an amount") from None
    if not d.is_finite() or d <= 0:
        raise UserInputError(f"--target {text!r} must be an amount above 0")
    return d


def _orders(files):
    """Every order event of the files, in file order; an undecodable line stops with `file:line: reason`."""
    from agents.customers.replay import read_events
    from schemas.events import OrderEvent

    def fail(msg: str) -> None:
        raise UserInputError(f"invalid event at {msg}")

    return [e for e in read_events(files, fail) if isinstance(e, OrderEvent)]


def _directory(path: Path | None):
    from agents.cli.options import settings_from
    from agents.escalation.directory import Directory
    from pipeline.configfile import load_yaml

    return load_yaml(path or settings_from().paths.resolve("directory", "directory.yaml"), Directory)


@click.group(name="incentives")
def incentives_group() -> None:
    """Incentive plans: commission on revenue against target, clawbacks, team bonus."""


@incentives_group.command(name="statement")
@click.option("--plan", "plan_path", type=PLAN_FILE, required=True, help="Incentive plans (config/incentives.yaml).")
@click.option("--events", "event_files", type=click.Path(exists=True, dir_okay=False, path_type=Path), multiple=True,
              required=True, help="JSON-lines events as `salespulse emit` writes them (repeatable); non-order "
                                  "events are skipped.")
@click.option("--rep", required=True, help="The rep (sales_rep_id on orders).")
@click.option("--period", required=True, help="2026-11 (a month) or 2026-Q4 (a quarter), as the plan pays.")
@click.option("--targets", "targets_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Revenue targets (default: config/targets.yaml, or SALESPULSE_PATHS__TARGETS).")
@click.option("--target", "target_text", metavar="AMOUNT",
              help="Use this revenue target for the rep instead of the targets file (a what-if, or a check).")
@CURRENCIES
@DIRECTORY
def incentives_statement(plan_path: Path, event_files: tuple[Path, ...], rep: str, period: str,
                         targets_path: Path | None, target_text: str | None, currencies_path: Path | None,
                         directory_path: Path | None) -> int:
    """Print the rep's incentive statement for the period as one JSON object: rep, period, plan, currency,
    revenue, target, attainment, commission (after the cap), team_bonus, total and lines (each order with its
    amount, date, tier and rate; each clawback with its order; refunds past the window and amounts no rate
    covers, shown but not counted). The plan is the one naming the rep, else their team's, else their role's
    (config/directory.yaml). A bad file, an undecodable event line or a rep without a target is one line on
    stderr, exit code 2."""
    from agents.cli.options import settings_from
    from agents.kpis.targets import load_targets
    from agents.performance.incentives import load_plans, parse_period, place, statement
    from pipeline.currency import load_rates

    paths = settings_from().paths
    when = parse_period(period)
    rates = load_rates(currencies_path or paths.resolve("currencies", "currencies.yaml"))
    directory = _directory(directory_path)
    cfg = load_plans(plan_path, reporting_currency=rates.reporting_currency, directory=directory)
    targets = load_targets(targets_path or paths.resolve("targets", "targets.yaml"), rates.reporting_currency)
    placed = place(cfg, targets, directory, rep, when)
    if placed is None:
        person = directory.person(rep)
        raise UserInputError(f"no {when.kind}ly plan in {plan_path} applies to {rep!r} "
                             f"(role {person.role if person else None!r}, team {targets.rep_team.get(rep)!r})")
    target = _amount(target_text)
    if target is None:
        target = placed.target
        if target is None:
            raise UserInputError(f"{rep!r} has no revenue target for {when.text} in the targets file: "
                                 "add one there or give --target AMOUNT")
    s = statement(placed.plan, _orders(event_files), rep, when.text, target, rates, placed.team_reps,
                  placed.team_target)
    click.echo(_readable(s.to_dict()))
    return 0


def _readable(doc: dict) -> str:
    """One JSON object, a key per line and a statement line per line: a rep reads it, jq parses it."""
    head = [f"  {orjson.dumps(k).decode()}: {orjson.dumps(v).decode()}" for k, v in doc.items() if k != "lines"]
    lines = ",\n".join(f"    {orjson.dumps(line).decode()}" for line in doc["lines"])
    return "{\n" + ",\n".join(head) + ',\n  "lines": [' + (f"\n{lines}\n  ]" if lines else "]") + "\n}"


@incentives_group.command(name="check")
@click.argument("file", type=PLAN_FILE)
@CURRENCIES
@DIRECTORY
def incentives_check(file: Path, currencies_path: Path | None, directory_path: Path | None) -> int:
    """Validate an incentive plans FILE (against the reporting currency and the directory's roles, people and
    teams): `FILE: N plans OK`, or the first mistake as `file:line: key: message` with exit code 2."""
    from agents.cli.options import settings_from
    from agents.performance.incentives import load_plans
    from pipeline.currency import load_rates

    rates = load_rates(currencies_path or settings_from().paths.resolve("currencies", "currencies.yaml"))
    cfg = load_plans(file, reporting_currency=rates.reporting_currency, directory=_directory(directory_path))
    click.echo(f"{file}: {len(cfg.plans)} plan{'s' if len(cfg.plans) != 1 else ''} OK")
    return 0


commands = [incentives_group]
