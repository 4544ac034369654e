"""`salespulse signals replay FILE... --now T`: JSON-lines events -> the business signals the worker would raise by T."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import orjson

from agents.cli.customers import FILES, _parse_now, _reader


@click.group(name="signals")
def signals_group() -> None:
    """Business signals: complaint rates, negative feedback shares, target pace, campaign ROI."""


@signals_group.command(name="replay")
@FILES
@click.option("--now", "now_text", metavar="ISO8601", required=True,
              help="Report what would have fired by this time; later events are left out.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Signals config (default: config/signals.yaml, or SALESPULSE_PATHS__SIGNALS).")
@click.option("--currencies", "currencies_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Reporting currency and exchange rates (default: config/currencies.yaml, or SALESPULSE_PATHS__CURRENCIES).")
@click.option("--targets", "targets_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Targets file, in the reporting currency (default: config/targets.yaml, or SALESPULSE_PATHS__TARGETS).")
@click.option("--classifier", "classifier_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Classifier config directory (default: the worker's, SALESPULSE_PATHS__CLASSIFIER_DIR).")
def signals_replay(files: tuple[Path, ...], now_text: str, config_path: Path | None, currencies_path: Path | None,
                   targets_path: Path | None, classifier_dir: Path | None) -> int:
    """Replay order / feedback / funnel / campaign-spend events from JSON-lines FILES, in file order, and
    print one JSON line per signal that would fire by --now: at, signal (complaint_rate, negative_share,
    target_pace, campaign_roi), subject (e.g. sku:SKU-KETTLE-3), severity, window_start, incident_key and
    evidence. Feedback is classified exactly as the worker does. Complaint rates and shares run on the
    events' own times; pace and ROI are judged at --now. Invalid lines are reported on stderr with their
    line number and skipped; the exit code is then 1. A bad config file is one line on stderr, exit code 2."""
    from agents.cli.options import settings_from
    from agents.feedback.classifier import Classifier
    from agents.feedback.core import FeedbackCore
    from agents.kpis import KpiState, load_rates, load_targets
    from agents.signals import OfflineFigures, SignalsCore, load_signals
    from agents.signals.replay import replay

    now = _parse_now(now_text)
    settings = settings_from()
    paths = settings.paths
    cfg = load_signals(config_path or paths.resolve("signals", "signals.yaml"))
    rates = load_rates(currencies_path or paths.resolve("currencies", "currencies.yaml"))
    targets = load_targets(targets_path or paths.resolve("targets", "targets.yaml"), rates.reporting_currency)
    clf_dir = classifier_dir or paths.classifier_dir
    classifier = Classifier.from_config(clf_dir) if clf_dir else Classifier.default()
    feedback = FeedbackCore(classifier, raise_high=settings.worker.raise_high_feedback)
    events, errors = _reader(files)
    firings = replay(events, now, SignalsCore(cfg), feedback, OfflineFigures(KpiState(rates, targets.rep_team), targets))
    out = sys.stdout.buffer
    for f in firings:
        out.write(orjson.dumps(f.line()) + b"\n")
    out.flush()
    return 1 if errors else 0


commands = [signals_group]
