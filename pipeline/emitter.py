"""Channel SDK: validate an event, pick its topic, key it, send it with kafka-python."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kafka import KafkaProducer
from pydantic import ValidationError

from pipeline import topics as T
from pipeline.decode import describe
from pipeline.errors import BrokerError, UserInputError
from schemas.events import INPUT_ADAPTER, EventBase, IncidentEvent


def partition_key(event: EventBase) -> bytes:
    """Customer id, so one customer's events stay in order; incidents by incident key,
    so every report of one incident (and its ack / resolve commands) meets one worker."""
    if isinstance(event, IncidentEvent):
        return event.incident_key.encode()
    return event.key.encode()


def validate(obj: Any) -> EventBase:
    """A dict, JSON text/bytes or a model -> a validated event, or UserInputError naming the fields."""
    if isinstance(obj, EventBase):
        return obj
    try:
        if isinstance(obj, (str, bytes)):
            return INPUT_ADAPTER.validate_json(obj)
        return INPUT_ADAPTER.validate_python(obj, strict=False)
    except ValidationError as exc:
        raise UserInputError(f"invalid event: {describe(exc)}") from None


def _reachable(server: str, timeout: float = 3.0) -> bool:
    from pipeline.brokers.base import port_open

    host, _, port = server.rpartition(":")
    return port.isdigit() and port_open(host or "127.0.0.1", int(port), timeout=timeout)


class Emitter:
    """`with Emitter("127.0.0.1:9092") as em: em.emit(event)`; sends are batched, flush() waits."""

    def __init__(self, bootstrap: str | list[str], *, topic_prefix: str = "", linger_ms: int = 5,
                 client_id: str = "salespulse-emitter", **producer_kwargs: Any) -> None:
        self.topic_prefix = topic_prefix
        servers = [bootstrap] if isinstance(bootstrap, str) else list(bootstrap)
        if not any(_reachable(s) for s in servers):  # fail in seconds, not after kafka-python's 30 s probe
            raise BrokerError(f"cannot connect to Kafka at {', '.join(servers)}")
        try:
            self._producer = KafkaProducer(
                bootstrap_servers=bootstrap, linger_ms=linger_ms, acks="all",
                client_id=client_id, retries=5, **producer_kwargs,
            )
        except Exception as exc:  # NoBrokersAvailable and friends
            raise BrokerError(f"cannot connect to Kafka at {bootstrap}: {exc}") from None
        self.sent = 0

    @classmethod
    def from_settings(cls, settings, **kwargs: Any) -> "Emitter":
        """An emitter for the configured cluster, SASL / TLS included (the CLI's way in)."""
        from pipeline.admin import client_kwargs

        kw = client_kwargs(settings)
        return cls(kw.pop("bootstrap_servers"), topic_prefix=settings.topic_prefix, **kw, **kwargs)

    def topic_for(self, event: EventBase) -> str:
        return T.topic_name(T.TOPIC_FOR_EVENT_TYPE[event.event_type], self.topic_prefix)

    def emit(self, event: EventBase | dict | str | bytes):
        ev = validate(event)
        future = self._producer.send(self.topic_for(ev), key=partition_key(ev),
                                     value=ev.model_dump_json().encode())
        self.sent += 1
        return future

    def emit_raw(self, topic: str, value: bytes, key: bytes | None = None):
        """Send bytes unvalidated (tests of the dead-letter path, replays)."""
        return self._producer.send(T.topic_name(T.TopicSpec(topic), self.topic_prefix), key=key, value=value)

    def emit_many(self, events: Iterable[EventBase | dict]) -> int:
        n = 0
        for ev in events:
            self.emit(ev)
            n += 1
        return n

    def flush(self, timeout: float | None = 30) -> None:
        self._producer.flush(timeout=timeout)

    def close(self) -> None:
        self._producer.flush(timeout=30)
        self._producer.close(timeout=10)

    def __enter__(self) -> "Emitter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
