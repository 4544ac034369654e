"""`salespulse scorecard show|check`: a rep's or team's scorecard from the database; validate the targets."""

from __future__ import annotations

import json
from pathlib import Path

import click

from agents.cli.options import database_option, run_db, settings_from
from pipeline.errors import UserInputError


@click.group(name="scorecard")
def scorecard() -> None:
    """Scorecards: attainment against base and stretch targets, with pace, and the figures behind them."""


def _directory():
    from agents.escalation.directory import Directory
    from pipeline.configfile import load_yaml

    return load_yaml(settings_from().paths.resolve("directory", "directory.yaml"), Directory)


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def _text(out: dict) -> None:
    for card in out["scorecards"] + out["teams"]:
        click.echo(f"{card['kind']} {card['id']} (team {card['team'] or '-'}), {card['period']}: "
                   f"{_pct(card['elapsed'])} of the period gone, revenue attainment {_pct(card['attainment'])}")
        for t in card["targets"]:
            if t["on_pace"] is None:
                pace = ""
            elif t["expected"] is None:
                pace = "  base met" if t["on_pace"] else "  below base"
            else:
                pace = f"  {'on pace' if t['on_pace'] else 'behind'} (expected {t['expected']} by now)"
            click.echo(f"  {t['metric']:24} {t['actual'] if t['actual'] is not None else '-':>12}  base {t['base']:>10}"
                       f" ({_pct(t['of_base'])})  stretch {t['stretch']:>10} ({_pct(t['of_stretch'])}){pace}")
        f = card["figures"]
        click.echo(f"  orders {f['orders']}, AOV {f['average_order_value'] or '-'}, win rate {_pct(f['win_rate'])}, "
                   f"cycle {f['sales_cycle_days'] if f['sales_cycle_days'] is not None else '-'} d, follow-ups on time "
                   f"{_pct(f['followup_on_time'])}, ack median {f['ack_median_minutes'] if f['ack_median_minutes'] is not None else '-'} min, "
                   f"sentiment {f['sentiment'] if f['sentiment'] is not None else '-'}")


@scorecard.command(name="show")
@click.option("--rep", default=None, help="a rep (directory id)")
@click.option("--team", default=None, help="a directory team (e.g. team-north): its reps and the team")
@click.option("--period", required=True, help="a month 2026-11 or a quarter 2026-Q4")
@click.option("--now", "now_text", default=None, metavar="ISO8601", help="pace as of this time (default: the clock)")
@click.option("--json", "as_json", is_flag=True, help="the GET /scorecards JSON instead of text")
@database_option
def show(rep, team, period, now_text, as_json, database) -> None:
    """Show the scorecard of --rep or --team for --period, read from the database of the settings."""
    from agents.cli.customers import _parse_now
    from agents.performance.earnings import configured
    from agents.performance.service import Unseen, scorecards
    from agents.performance.targets import load_configured, parse_period
    from pipeline.currency import load_rates
    from pipeline.runtime import now_utc

    if not rep and not team:
        raise UserInputError("give --rep or --team")
    try:
        p = parse_period(period)
    except ValueError as exc:
        raise UserInputError(f"--period: {exc}") from None
    now = _parse_now(now_text) or now_utc()
    paths = settings_from().paths
    directory = _directory()
    rates = load_rates(paths.resolve("currencies", "currencies.yaml"))
    targets = load_configured(paths, directory, rates.reporting_currency)

    async def run(engine, s):
        earnings = configured(engine, paths, directory, rates)
        try:
            return await scorecards(engine, directory, targets, p, now, rep=rep, team=team,
                                    revenue_of=earnings.revenue_of, incentive_of=earnings.incentive_of)
        except Unseen as exc:
            raise UserInputError(str(exc)) from None

    out = run_db(database, run)
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False))
    else:
        _text(out)


@scorecard.command(name="check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def check(file) -> None:
    """Validate a scorecard targets FILE (owners against the directory of the settings)."""
    from agents.kpis.targets import load_targets
    from agents.performance.targets import load_scorecard_targets

    t = load_scorecard_targets(file, load_targets(settings_from().paths.resolve("targets", "targets.yaml")),
                               _directory())
    click.echo(f"{file}: {len(t.entries)} targets, ok")


commands = [scorecard]
