"""`salespulse broker start --kind tansu|kafka`: a local broker in the foreground."""

from __future__ import annotations

import signal
import threading

import click


@click.group()
def broker() -> None:
    """Local brokers for development and tests."""


@broker.command()
@click.option("--kind", type=click.Choice(["tansu", "kafka"]), default="tansu", show_default=True)
@click.option("--port", type=int, default=None, help="client port (default: a free one)")
def start(kind, port) -> None:
    """Start a broker on 127.0.0.1 and keep it running until Ctrl-C / SIGTERM."""
    from pipeline.brokers import local_broker

    b = local_broker(kind, port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    b.start()
    click.echo(f"{kind} broker ready at {b.bootstrap} (SALESPULSE_KAFKA__BROKER={b.url})", err=True)
    click.echo(b.bootstrap)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        b.stop()
        click.echo("broker stopped", err=True)


commands = [broker]
