"""`salespulse bench`: the features alone, client limit, framework floor, whole pipeline, latency and memory in one run."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command()
@click.option("--broker", type=click.Choice(["tansu", "kafka"]), default="tansu", show_default=True,
              help="broker to start for the run (embedded Tansu or Apache Kafka from kafka/)")
@click.option("--events", type=click.IntRange(min=100), default=200_000, show_default=True,
              help="simulated events preloaded (60% orders, 30% feedback, 10% incidents and funnel)")
@click.option("--workers-mode", is_flag=True, help="also run two workers and print the scaling ratio")
@click.option("--skip-latency", is_flag=True, help="skip the steady-rate latency measurement (~35 s)")
@click.option("--customers", type=click.IntRange(min=1), default=2000, show_default=True,
              help="simulated customer population (1000000 for the 10x-customers figures)")
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--latency-seconds", type=float, default=20.0, show_default=True)
@click.option("--latency-rate", type=click.FloatRange(min=1), default=None,
              help="events/s of the latency phase (default: half the measured pipeline rate); for paired runs")
@click.option("--latency-tick-ms", type=click.FloatRange(min=0.5, max=1000), default=10.0, show_default=True,
              help="the latency phase sends the events due this often (shorter ticks cost the harness more CPU)")
@click.option("--database", default=None, help="worker database URL (default: SQLite in the run's temp dir)")
@click.option("--skip-default-floor", is_flag=True, help="skip the floor with faust's default settings")
@click.option("--skip-features", is_flag=True,
              help="skip timing the features' own steps alone (no glue_ratio then)")
@click.option("--compare", "compare_with", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="a previous --json-out report (default population) to compare customers figures with")
@click.option("--profile", "profile_dir", type=click.Path(file_okay=False, path_type=Path),
              help="py-spy the pipeline worker while it drains; collapsed stacks and top entries go here")
@click.option("--worker-env", multiple=True, metavar="KEY=VALUE",
              help="extra environment for the pipeline workers, e.g. SALESPULSE_DATABASE__WRITE_BATCH_MAX=2000 (repeatable)")
@click.option("--keep-workdir", is_flag=True, help="keep the run's temp dir (worker logs, SQLite) after success")
@click.option("--json-out", type=click.Path(dir_okay=False, path_type=Path), help="also write the report here")
def bench(broker, events, workers_mode, skip_latency, customers, seed, latency_seconds, latency_rate, latency_tick_ms,
          database, skip_default_floor, skip_features, compare_with, profile_dir, worker_env, keep_workdir, json_out) -> None:
    """Measure the pipeline against the framework floor, the raw client and the features' own work; print one JSON object.

    Progress goes to stderr, the report to stdout. --events 30000 takes about 2 minutes on 2 cores
    (the pipeline drains ~3,000 events per second there), --workers-mode about 3.
    """
    from agents.bench_features import features_phase
    from pipeline.bench import BenchConfig, compare_customers, run

    env = {}
    for item in worker_env:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--worker-env")
        env[key] = value

    cfg = BenchConfig(broker=broker, events=events, workers_mode=workers_mode, skip_latency=skip_latency,
                      customers=customers, seed=seed, latency_seconds=latency_seconds, latency_rate=latency_rate,
                      latency_tick_s=latency_tick_ms / 1000.0, database=database,
                      skip_default_floor=skip_default_floor,
                      profile_dir=profile_dir, worker_env=env,
                      keep_workdir=keep_workdir, features=None if skip_features else features_phase)
    report = run(cfg, progress=lambda line: click.echo(line, err=True))
    if compare_with is not None:
        versus = report["customers_vs_baseline"] = compare_customers(json.loads(compare_with.read_text()), report)
        if versus.get("machine_comparable") is False:
            floors = versus["floor_cpu_us_per_event"]
            click.echo(f"warning: the floor cost {floors['this']} us per event here against {floors['base']} in "
                       f"{compare_with}: the machine's speed changed between the runs, so the throughput ratio "
                       "does not compare the populations; run both again", err=True)
    text = json.dumps(report, indent=2)
    if json_out is not None:
        json_out.write_text(text + "\n")
    click.echo(text)


commands = [bench]
