"""Record batches aiokafka cannot read (codec, CRC, framing) -> one dead letter each, the partition read on past them."""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from aiokafka.consumer.fetcher import FetchResult

from pipeline.deadletters import dead_letter
from pipeline.runtime import Meta, Runtime, now_utc
from schemas.deadletter import DeadLetterReason

log = logging.getLogger(__name__)

REASON = DeadLetterReason.undecodable_record


@dataclass(frozen=True, slots=True)
class UndecodableBatch:
    """Offsets `first`..`last` of one partition that could not be read, and why. aiokafka's record
    batches keep no bytes of their own, so the dead letter carries the error, not the batch."""

    topic: str
    partition: int
    first: int
    last: int
    error: str

    @property
    def detail(self) -> str:
        return f"offsets {self.first}-{self.last} could not be read: {self.error}"


class _Batches:
    """A fetched MemoryRecords that remembers the batch being read: its header says where the next
    batch starts even when its records cannot be decoded."""

    __slots__ = ("records", "current")

    def __init__(self, records) -> None:
        self.records = records
        self.current = None

    def has_next(self) -> bool:
        return self.records.has_next()

    def next_batch(self):
        self.current = None  # a batch whose framing is broken raises here: no header to trust
        self.current = self.records.next_batch()
        return self.current


def _guarded(result: FetchResult, inner: Iterator, batches: _Batches, found: Callable[[], None]) -> Iterator:
    """aiokafka's records of one fetch, ending with an UndecodableBatch where it failed: its position
    then moves past that batch, so the next fetch starts after it (aiokafka fetched it again and
    failed again for ever, and the error stopped faust's fetcher: the worker exited)."""
    records = result._partition_records
    try:
        yield from inner
    except Exception as exc:  # whatever the decoder raised, the batch cannot be read
        tp = result._topic_partition
        first = records.next_fetch_offset
        end = getattr(batches.current, "next_offset", None)
        highwater = result._assignment.state_value(tp).highwater
        if end is None or not first < end <= (highwater if highwater is not None else end):
            end = first + 1  # the header is not plausible either: skip one offset at a time
        records.next_fetch_offset = end
        found()
        yield UndecodableBatch(tp.topic, tp.partition, first, end - 1, f"{type(exc).__name__}: {exc}"[:3000])


class GuardedResults(collections.OrderedDict):
    """aiokafka's `Fetcher._records` (fetched records by partition), each fetch read through
    `_guarded` from the moment the fetcher stores it, before anything drains it. `found` is called
    in the consumer's thread for each UndecodableBatch handed out."""

    def __init__(self, found: Callable[[], None], results: dict) -> None:
        super().__init__()
        self.found = found
        for tp, result in results.items():
            self[tp] = result

    def __setitem__(self, tp, result) -> None:
        if type(result) is FetchResult:
            records = result._partition_records
            batches = records._records = _Batches(records._records)  # read by aiokafka's generator on its first step
            records._records_iterator = _guarded(result, records._records_iterator, batches, self.found)
        super().__setitem__(tp, result)


def take_undecodable(records: dict) -> list[UndecodableBatch]:
    """Removes the UndecodableBatch entries from a fetch's record map and returns them."""
    found = []
    for tp, items in records.items():
        bad = [r for r in items if type(r) is UndecodableBatch]
        if bad:
            found += bad
            items[:] = [r for r in items if type(r) is not UndecodableBatch]
    return found


class DeadLetterUndecodable:
    """The worker's dead letter for an undecodable batch: on the deadletter topic and in
    dead_letters, keyed by its first offset; its offsets are acked once both are stored."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def __call__(self, batch: UndecodableBatch, ack: Callable[[], object]) -> None:
        meta = Meta(batch.topic, batch.partition, batch.first, now_utc(), b"")
        await dead_letter(self.rt, REASON, batch.detail, meta, None)
        self.rt.writer.ack_after(ack)
