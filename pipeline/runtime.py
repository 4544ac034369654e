"""What agents share inside one worker: app, topics, writer, metrics, handlers by event type."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

import faust
import orjson
from pydantic import BaseModel

from pipeline import topics as T
from pipeline.db.engine import make_engine
from pipeline.db.writer import BatchWriter
from pipeline.delivery import OutputDelivery
from pipeline.metrics import Metrics
from pipeline.settings import Settings

log = logging.getLogger(__name__)

# A handler returns None, or (when it finishes the event later) what takes the event's ack instead
# of BatchWriter.ack_after: it must pass the ack on to ack_after once the event's rows are added.
Handler = Callable[[Any, "Meta"], Awaitable[Callable[[Callable[[], object]], None] | None]]

@dataclass(frozen=True, slots=True)
class Meta:
    """Where an event came from and when we saw it."""

    topic: str
    partition: int
    offset: int
    received_at: datetime
    raw: bytes
    key: bytes | None = None


class SeenIds:
    """Bounded memory of recently processed event ids (redeliveries after a rebalance), each with
    a digest of its message, so an id reused for other content is told from a redelivery."""

    NEW, REDELIVERED, CONFLICTING = 0, 1, 2

    def __init__(self, size: int = 200_000) -> None:
        self.size = size
        self._ids: OrderedDict[Any, int | None] = OrderedDict()

    def check_and_add(self, event_id: Any) -> bool:
        """True if already seen."""
        return self.remember(event_id) != self.NEW

    def remember(self, event_id: Any, digest: int | None = None) -> int:
        """NEW (now remembered), REDELIVERED, or CONFLICTING: seen with another digest, which is
        kept (the first content stays the one processed). A redelivery repeats a message's bytes,
        and POST /events produces an event's canonical JSON, so a digest of the bytes is enough."""
        if type(event_id) is UUID:  # kept as its int: a UUID object is one more for the GC to walk
            event_id = event_id.int
        ids = self._ids
        if event_id in ids:
            known = ids[event_id]
            return self.REDELIVERED if known is None or digest is None or known == digest else self.CONFLICTING
        ids[event_id] = digest
        if len(ids) > self.size:
            ids.popitem(last=False)
        return self.NEW

    def __len__(self) -> int:
        return len(self._ids)


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Runtime:
    settings: Settings
    app: faust.App
    metrics: Metrics
    topics: dict[str, faust.TopicT] = field(default_factory=dict)
    handlers: dict[str, list[Handler]] = field(default_factory=lambda: defaultdict(list))
    seen: SeenIds = field(default_factory=SeenIds)
    assigned: set = field(default_factory=set)
    loaders: list[Callable[[set], Awaitable[None]]] = field(default_factory=list)
    # Closed from a revoke until every loader has loaded the state of the new assignment: faust
    # resumes the streams (its table recovery) while on_partitions_assigned receivers still run,
    # so without it an event of a newly assigned partition could be applied to state that SQL
    # then overwrites (a kill test loses orders from ~10 profiles that way).
    state_ready: asyncio.Event = field(default_factory=asyncio.Event)
    # per assigned partition: (read offset, committed offset, monotonic time either last moved)
    progress: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        db = self.settings.database
        self.engine = make_engine(db)
        self.delivery = OutputDelivery(self.metrics, db.retry_max_s, resend=self.resend)
        self.writer = BatchWriter(
            self.engine, self.metrics, max_rows=db.write_batch_max,
            interval_s=db.flush_interval_ms / 1000.0, retry_max_s=db.retry_max_s, delivery=self.delivery,
        )

    # topics -------------------------------------------------------------------------
    def topic_name(self, spec: T.TopicSpec) -> str:
        return T.topic_name(spec, self.settings.topic_prefix)

    def declare_topic(self, spec: T.TopicSpec) -> faust.TopicT:
        config = {"retention.ms": str(spec.retention_ms)}
        if spec.compacted:
            config["cleanup.policy"] = "compact"
        topic = self.app.topic(
            self.topic_name(spec), key_type=bytes, value_type=bytes,
            key_serializer="raw", value_serializer="raw", config=config,
            internal=True,  # faust creates it at start-up: a subscription to a missing topic gets no partitions on Kafka
        )
        self.topics[spec.name] = topic
        return topic

    def topic(self, spec: T.TopicSpec) -> faust.TopicT:
        return self.topics[spec.name]

    async def send(self, spec: T.TopicSpec, key: str | bytes | None, value: BaseModel | bytes) -> None:
        """Produce to an output topic (buffered by the producer, not awaited per delivery).

        Straight to the producer: faust's Topic.send adds a channel hop, message futures and
        sensor calls per record that we do not use. The delivery is handed to the writer: the
        events being processed are acked only once it is confirmed, and a failed one is resent."""
        body = value if isinstance(value, bytes) else value.model_dump_json().encode()
        k = key.encode() if isinstance(key, str) else key
        topic = self.topic(spec).get_topic_name()
        delivery = await self.app.producer.send(topic, k, body, partition=None, timestamp=None, headers=None)
        self.delivery.track(delivery, (topic, k, body))

    async def resend(self, record: tuple[str, bytes | None, bytes]):
        topic, key, body = record
        return await self.app.producer.send(topic, key, body, partition=None, timestamp=None, headers=None)

    # handlers -----------------------------------------------------------------------
    def on(self, event_type: str, handler: Handler) -> None:
        """Register a capability handler for validated events of one type."""
        self.handlers[event_type].append(handler)

    def on_assigned(self, loader: Callable[[set], Awaitable[None]]) -> None:
        """`loader(assigned)` loads the state of an assignment (retried while it fails); no event is
        processed before every loader has finished."""
        self.loaders.append(loader)

    async def admit(self) -> None:
        """Agents await this before each event: state loaded, and room in the writer."""
        if not self.state_ready.is_set():
            await self.state_ready.wait()
        await self.writer.wait_room()

    # health -------------------------------------------------------------------------
    async def update_lag(self) -> None:
        consumer = getattr(self.app, "_consumer", None)
        if consumer is None:
            return
        for tp in [tp for tp in self.progress if tp not in self.assigned]:
            del self.progress[tp]
        for tp in list(self.assigned):
            try:
                high = consumer.highwater(tp)
                committed = consumer._committed_offset.get(tp)  # faust keeps this per tp
            except Exception:  # the consumer may be rebalancing; lag comes next tick
                continue
            if high is None:
                continue
            lag = max(0, high - (committed or 0))
            self.metrics.lag.labels(tp.topic, str(tp.partition)).set(lag)
            self._watch_progress(consumer, tp, lag, committed)

    def _watch_progress(self, consumer, tp, lag: int, committed) -> None:
        """A partition behind whose read and committed offsets have not moved for STALL_S is logged
        once, with what decides whether it is fetched (faust's and aiokafka's partition state)."""
        now = asyncio.get_running_loop().time()
        read = consumer._read_offset.get(tp)
        before = self.progress.get(tp)
        if before is None or before[:2] != (read, committed) or not lag:
            self.progress[tp] = (read, committed, now, False)
            return
        if before[3] or now - before[2] < STALL_S or not self.state_ready.is_set():
            return
        self.progress[tp] = (*before[:3], True)
        log.warning("%s[%d]: %d behind, neither read nor committed for %.0f s (read %s, committed %s): %s",
                    tp.topic, tp.partition, lag, now - before[2], read, committed, fetch_state(consumer, tp))


STALL_S = 30.0  # a partition behind and not moving for this long is logged (Runtime._watch_progress)


def fetch_state(consumer, tp) -> str:
    """faust's and aiokafka's view of one partition, read without locks (for a log line)."""
    parts = [f"active={tp in (consumer._active_partitions or ())}", f"paused={tp in consumer._paused_partitions}",
             f"buffered={tp in consumer._buffered_partitions}", f"flow_active={consumer.flow_active}"]
    try:
        inner = consumer._thread._consumer
        state = inner._subscription.subscription.assignment.state_value(tp)
        parts += [f"position={state.position}", f"fetch_paused={state.paused}",
                  f"fetched_waiting={tp in inner._fetcher._records}"]
    except Exception as exc:  # not started, or rebalancing: what there is
        parts.append(f"aiokafka state unavailable ({type(exc).__name__})")
    return " ".join(parts)


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, default=str)
