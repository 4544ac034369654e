"""Create every SalesPulse topic before a worker subscribes (kafka-python admin client).

On Apache Kafka a consumer that subscribes to a topic that does not exist yet gets no
partitions of it until its next metadata refresh (minutes), so topics are created first.
"""

from __future__ import annotations

import time

from pipeline import topics as T
from pipeline.errors import BrokerError
from pipeline.settings import Settings


def client_kwargs(settings: Settings) -> dict:
    k = settings.kafka
    kw: dict = {"bootstrap_servers": k.bootstrap_servers, "security_protocol": k.security_protocol}
    if k.sasl_mechanism:
        kw.update(sasl_mechanism=k.sasl_mechanism, sasl_plain_username=k.sasl_username,
                  sasl_plain_password=k.sasl_password.get_secret_value() if k.sasl_password else None)
    if k.ssl_cafile:
        kw["ssl_cafile"] = str(k.ssl_cafile)
    if k.ssl_certfile:
        kw["ssl_certfile"] = str(k.ssl_certfile)
    if k.ssl_keyfile:
        kw["ssl_keyfile"] = str(k.ssl_keyfile)
    return kw


def ensure_topics(settings: Settings, timeout: float = 60.0) -> list[str]:
    """Create the missing topics and wait until the broker lists all of them; returns their names."""
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    k = settings.kafka
    names = {T.topic_name(spec, settings.topic_prefix): spec for spec in T.ALL}
    deadline = time.monotonic() + timeout
    try:
        admin = KafkaAdminClient(client_id="salespulse-admin", request_timeout_ms=15000, **client_kwargs(settings))
    except KafkaError as exc:
        raise BrokerError(f"cannot reach Kafka at {k.broker}: {exc}") from None
    try:
        missing = [n for n in names if n not in set(admin.list_topics())]
        if missing:
            new = []
            for name in missing:
                spec = names[name]
                config = {"retention.ms": str(spec.retention_ms)}
                if spec.compacted:
                    config["cleanup.policy"] = "compact"
                new.append(NewTopic(name, num_partitions=k.partitions, replication_factor=k.replication_factor,
                                    topic_configs=config))
            try:
                admin.create_topics(new, timeout_ms=15000)
            except TopicAlreadyExistsError:  # another worker won the race
                pass
        while time.monotonic() < deadline:
            if set(names) <= set(admin.list_topics()):
                return sorted(names)
            time.sleep(0.2)
        raise BrokerError(f"topics not visible after {timeout:.0f}s: {sorted(set(names) - set(admin.list_topics()))}")
    finally:
        admin.close()
