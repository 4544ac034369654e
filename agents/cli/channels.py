"""`salespulse emit FILE` and `salespulse simulate`: channel traffic into Kafka."""

from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta, timezone

import click

from agents.cli.options import broker_option, prefix_option, settings_from
from pipeline.errors import UserInputError


def _emitter(broker, topic_prefix):
    from pipeline.emitter import Emitter

    s = settings_from(broker=broker, topic_prefix=topic_prefix)
    return Emitter.from_settings(s)


@click.command()
@click.argument("file", type=click.File("rb"))
@broker_option
@prefix_option
def emit(file, broker, topic_prefix) -> None:
    """Validate and send events from FILE (JSON lines, '-' for stdin) to their topics."""
    bad = 0
    with _emitter(broker, topic_prefix) as em:
        for n, line in enumerate(file, 1):
            if not line.strip():
                continue
            try:
                em.emit(line)
            except UserInputError as exc:
                bad += 1
                click.echo(f"line {n}: {exc}", err=True)
    click.echo(f"sent {em.sent} events, {bad} invalid lines skipped", err=True)
    if bad:
        sys.exit(1)


@click.command()
@broker_option
@prefix_option
@click.option("--rate", type=float, default=100.0, show_default=True, help="events per second (0 = as fast as possible)")
@click.option("--count", type=int, default=0, help="stop after N events (0 = until Ctrl-C)")
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--customers", type=int, default=2000, show_default=True)
@click.option("--invalid-every", type=int, default=0, help="also send one malformed message every N events")
@click.option("--stdout", "to_stdout", is_flag=True, help="print JSON lines instead of sending to Kafka")
def simulate(broker, topic_prefix, rate, count, seed, customers, invalid_every, to_stdout) -> None:
    """Produce realistic mixed traffic: EN/ZH feedback, orders, incidents, funnel, spend."""
    from pipeline.simulate import Simulator

    if rate < 0 or count < 0:
        raise UserInputError("--rate and --count must not be negative")
    sim = Simulator(seed=seed, customers=customers)
    if to_stdout:
        now = datetime.now(timezone.utc)
        for i in range(count or 1000):
            click.echo(sim.next(now + timedelta(seconds=i)).model_dump_json())
        return
    em = _emitter(broker, topic_prefix)
    started = time.monotonic()
    sent = 0
    try:
        while not count or sent < count:
            if rate:
                ahead = sent / rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(min(ahead, 0.5))
                    continue
            em.emit(sim.next(datetime.now(timezone.utc)))
            sent += 1
            if invalid_every and sent % invalid_every == 0:
                em.emit_raw("orders", b'{"event_type": "order", "amount": "lots"}')
    except KeyboardInterrupt:
        pass
    finally:
        em.close()
    click.echo(f"sent {sent} events in {time.monotonic() - started:.1f}s", err=True)


commands = [emit, simulate]
