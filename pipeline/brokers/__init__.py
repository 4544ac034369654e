"""Local brokers run as child processes: Tansu (the embedded default) and Apache Kafka."""

from __future__ import annotations

KINDS = ("tansu", "kafka")


def local_broker(kind: str, port: int | None = None):
    """A broker of `kind` on 127.0.0.1, not started (`.start()` it, or use it as a context manager)."""
    if kind == "tansu":
        from pipeline.brokers.tansu import TansuBroker

        return TansuBroker(port=port)
    if kind == "kafka":
        from pipeline.brokers.apache import ApacheKafkaBroker

        return ApacheKafkaBroker(port=port)
    raise ValueError(f"unknown broker kind {kind!r} (expected one of {', '.join(KINDS)})")


def start_local(kind: str):
    """`local_broker(kind)`, started: ready when this returns."""
    return local_broker(kind).start()
