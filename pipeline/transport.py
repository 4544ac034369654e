"""faust's aiokafka transport with a configurable consumer fetch wait.

faust hard-codes fetch_max_wait_ms=1500 in its aiokafka driver. On a broker that does
not answer a fetch early when data arrives (Tansu) that wait is pure latency. On Apache
Kafka, which does answer early, a long wait still costs latency: aiokafka keeps one fetch
in flight per broker and leaves out partitions whose records are still being processed, so
new data on those waits for the in-flight fetch of the others (measured: fetch wait 500 ms
-> incident-to-page p50 1.2 s at 200/s, against 0.1-0.3 s at 10 ms). We subclass the driver's consumer
thread (faust builds it through `Consumer._new_consumer_thread`) instead of patching it.

faust's drain loop hands every message to the conductor through mode's
`wait_first(callback(message), suspend_flow.wait())`: four tasks and an `asyncio.wait` per
message, so that a put blocked on a full agent buffer can be abandoned when a rebalance
suspends the flow. `FastDrainConsumer` awaits the callback directly while the flow is not
suspended (and falls back to faust's call when it is), which costs 2.1-2.5x less CPU per
event in the no-op floor. A put still blocked when a rebalance starts then
completes after faust clears the agent buffers, so such an event may reach an agent after its
partition was revoked: the ingest and command agents skip events of partitions no longer in
`Runtime.assigned`. Such a callback can also end after the rebalance's seek has set the
partition's read offset back to its committed offset; recording the stale message's offset then
would make the loop drop every record read again below it as already read (faust's "DROPPED
MESSAGE", logged at dev level only): the partition's lag stayed at ~3,000 and ~2,000 orders were
never processed on the surviving worker of `tests/fault/test_kill_worker.py`. So when the
generation changed while the callback waited, the rest of that fetch is left (faust's getmany
stops at a generation change too) and the read offsets stay the seek's.

The same loop asks for records with `getmany(timeout=1.0)`, and faust leaves a partition out of
that request while its agent's buffer is full (`on_buffer_full`); when the buffer drains
(`on_buffer_drop`) the partition is back in the set, but the request already waiting does not
look again, so with every partition that still has records left out it waits its whole second
for the others (one or two 1.0-1.15 s stalls in four of five 30,000-event floor runs on
Tansu and in every run on Apache Kafka, the floor at 9,000-16,000 events/s instead of
25,000-28,000). While a partition is left out, `FastDrainConsumer`
asks with a 10 ms wait instead (a request costs ~0.1 ms; the one-second wait stays while nothing
is left out).

A worker with nothing to read still asks the broker every fetch wait (10 ms): idle, that costs a
worker ~0.09 cores and Tansu ~0.16. After a whole one-second
`getmany` without a record, the fetcher's wait becomes `salespulse_idle_fetch_max_wait_ms`
(`ConsumerThread.set_quiet`, 100 ms by default) until the next record arrives. Apache Kafka
answers a fetch as soon as data arrives, so there it costs no latency but where aiokafka's one
fetch in flight leaves a partition out (above); on Tansu the first record after a quiet second
can wait up to that long.

Used only with the faust version it was copied from; any other runs faust's own loop.
The copied method is faust-streaming's (BSD-3-Clause; Copyright (c) 2017-2020 Robinhood
Markets, Inc. and the faust-streaming contributors; its licence, whose terms cover that
copy: licenses/faust-streaming-LICENSE), changed in the statements marked SalesPulse.

aiokafka raises a record batch it cannot read (a codec it lacks, corrupt compression, a CRC error)
out of its fetcher: faust's fetcher stops, the worker exits, and a restart fetches the same batch
again. So each fetch is read through `pipeline/undecodable.py`: the batch becomes one dead letter
(`undecodable_record`, with its topic, partition and offsets), the partition reads on after it, and
its offsets are acked once the dead letter is stored (`app.conf.salespulse_undecodable`).

A worker whose broker has gone still stops on SIGTERM: faust's final commit and aiokafka's
consumer stop are each bounded to `CONSUMER_STOP_S` and never raise into mode's shutdown (before,
the worker waited for them forever; `tests/fault/test_broker_gone_shutdown.py`). aiokafka's producer
stop waits for every batch it holds to be delivered or to expire (faust's request timeout: 20
minutes), so a record sent as the broker went away held it; it is bounded to `PRODUCER_STOP_S`
(`Producer.on_stop`). What it held belongs to events not acked (produced again on redelivery) or to a
POST /events that was answered 503 (its sender resends).
"""

from __future__ import annotations

import asyncio
import logging
from typing import AsyncIterator, cast

import faust
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as driver
from faust.types.tuples import Message
from mode import Service, ServiceT

from pipeline.undecodable import GuardedResults, UndecodableBatch, take_undecodable

log = logging.getLogger(__name__)

FAST_DRAIN_FAUST_VERSIONS = frozenset({"0.15.3"})  # the faust whose loop FastDrainConsumer copies
CONSUMER_STOP_S = 5.0  # longest aiokafka's consumer may take to stop (its broker may be gone)
PRODUCER_STOP_S = 5.0  # longest aiokafka's producer may take to stop (its broker may be gone)
BUFFERED_POLL_S = 0.01  # getmany's wait while a partition is left out of fetches for a full buffer


class ConsumerThread(driver.AIOKafkaConsumerThread):
    quiet = False  # in the quiet fetch wait (no record for a whole drain-loop wait)
    undecodable = False  # the last fetch handed out an UndecodableBatch (set in this thread, read by the consumer)

    async def on_start(self) -> None:
        await super().on_start()
        fetcher = self._consumer._fetcher
        fetcher._records = GuardedResults(self._found_undecodable, fetcher._records)

    def _found_undecodable(self) -> None:
        self.undecodable = True

    def _create_worker_consumer(self, transport):
        consumer = super()._create_worker_consumer(transport)
        wait = getattr(self.app.conf, "salespulse_fetch_max_wait_ms", None)
        if wait is not None:
            consumer._fetch_max_wait_ms = int(wait)  # read by the fetcher created in start()
        return consumer

    def set_quiet(self, quiet: bool) -> None:
        """A quiet worker fetches with the longer wait (`salespulse_idle_fetch_max_wait_ms`), the
        first record puts the short one back. The fetcher reads its wait for each request it builds
        (in the consumer's thread; one attribute, set whole)."""
        if quiet == self.quiet:
            return
        idle = getattr(self.app.conf, "salespulse_idle_fetch_max_wait_ms", None)
        consumer = getattr(self, "_consumer", None)
        fetcher = getattr(consumer, "_fetcher", None)
        if idle is None or fetcher is None:
            return
        self.quiet = quiet
        fetcher._fetch_max_wait_ms = int(idle) if quiet else consumer._fetch_max_wait_ms

    async def on_thread_stop(self) -> None:
        """Stops aiokafka's consumer, bounded, and never lets it raise. With the broker gone,
        aiokafka's fetcher close awaits its own fetch task after cancelling it, which raises
        `CancelledError` here; mode's thread then never reports its shutdown and the worker
        waits for it forever: a SIGTERM does nothing (with Tansu stopped 3 s before, the worker is
        still running 60 s later). Offsets not committed by then are redelivered (at-least-once)."""
        try:
            async with asyncio.timeout(CONSUMER_STOP_S):
                await super().on_thread_stop()
        except (asyncio.CancelledError, Exception) as exc:  # the thread must report its shutdown
            log.warning("consumer did not stop cleanly (%s: %s); its uncommitted events are redelivered",
                        type(exc).__name__, exc)


class Consumer(driver.Consumer):
    """faust's aiokafka consumer with two holes in its at-least-once commit closed.

    1. At a rebalance faust's stream iterator drops what its agents' buffers still hold (flow
       suspended, or fetched under the previous generation) and acks each dropped message as it
       goes, so that lag does not grow. Those messages were never processed. After the rebalance
       every partition is read again from its committed offset, but a commit made before the copies
       are processed (the events in flight before the rebalance finish and close the run of acked
       offsets) passes them: a worker that dies then, or a second rebalance that seeks to that
       commit, loses them (no error, no dead letter). A dropped message is one no stream took, so
       faust never tracked it: such acks are refused here and counted
       (`salespulse_rebalance_skips_total`), and only the copy read again is acked.
    2. faust commits up to the end of the first run of acked offsets, and lets that run start one
       past the committed offset (faust-streaming issue 606): the message at the committed offset may
       still be in flight. SalesPulse acks out of order within a partition (feedback waits for its
       classifier while a redelivered or dead-lettered event behind it is acked with its batch), so
       the commit is capped below the first message of the partition still in flight.
    """

    _in_flight_heads: dict = {}

    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def ack(self, message: Message) -> bool:
        if not message.tracked:  # dropped by faust at a rebalance, unprocessed (1. above)
            counter = getattr(self.app.conf, "salespulse_rebalance_skips", None)
            if counter is not None:
                counter.inc()
            return False
        return super().ack(message)

    def _filter_committable_offsets(self, tps):
        heads: dict = {}
        for m in list(self._unacked_messages):  # taken by a stream, not acked yet
            if not m.acked and (heads.get(m.tp) is None or m.offset < heads[m.tp]):
                heads[m.tp] = m.offset
        self._in_flight_heads = heads
        return super()._filter_committable_offsets(tps)

    def _new_offset(self, tp):
        head = self._in_flight_heads.get(tp)
        acked = self._acked[tp]
        if head is None or not acked or max(acked) < head:
            return super()._new_offset(tp)
        beyond = [o for o in acked if o >= head]  # acked, but behind a message still in flight (2. above)
        acked[:] = [o for o in acked if o < head]
        try:
            return super()._new_offset(tp) if acked else None
        finally:
            acked.extend(beyond)

    async def _getmany(self, active_partitions, timeout: float):
        records = await super()._getmany(active_partitions, timeout)
        if self._thread.undecodable:
            self._thread.undecodable = False
            for batch in take_undecodable(records):
                await self._dead_letter(batch)
        return records

    async def _dead_letter(self, batch: UndecodableBatch) -> None:
        """Hands the batch to the app's dead-letter sink, which acks its offsets once the dead letter is
        stored. The records of its partition after it reach the agents after this: their acks come
        later through the same writer, so a commit never passes the batch before its dead letter."""
        log.error("%s[%d] offsets %d-%d cannot be read, dead-lettered: %s",
                  batch.topic, batch.partition, batch.first, batch.last, batch.error)
        sink = getattr(self.app.conf, "salespulse_undecodable", None)
        if sink is None:  # an app without dead letters (the bench's floor) reads on past the batch
            self._ack_offsets(batch)
        else:
            await sink(batch, lambda: self._ack_offsets(batch))

    def _ack_offsets(self, batch: UndecodableBatch) -> None:
        tp = self._new_topicpartition(batch.topic, batch.partition)
        for offset in range(batch.first, batch.last + 1):
            self.ack(Message(batch.topic, batch.partition, offset, 0.0, 0, None, None, None, None, tp=tp))

    async def on_stop(self) -> None:
        """faust's final commit, bounded: with the broker gone aiokafka looks for the group
        coordinator forever and a SIGTERM never ends the worker (with Apache Kafka stopped 3 s
        before, it is still running 20 s later)."""
        try:
            async with asyncio.timeout(CONSUMER_STOP_S):
                await super().on_stop()
        except TimeoutError:
            log.warning("final commit not done within %.0f s (broker away?); uncommitted events are redelivered",
                        CONSUMER_STOP_S)


class FastDrainConsumer(Consumer):
    async def _drain_messages(self, fetcher: ServiceT) -> None:
        # faust-streaming 0.15.3's Consumer._drain_messages, changed where marked SalesPulse
        # This is the background thread started by Fetcher, used to
        # constantly read messages using Consumer.getmany.
        # It takes Fetcher as argument, because we must be able to
        # stop it using `await Fetcher.stop()`.
        callback = self.callback
        getmany = self.getmany
        consumer_should_stop = cast(Service, self)._stopped.is_set
        fetcher_should_stop = cast(Service, fetcher)._stopped.is_set

        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        flag_consumer_fetching = CONSUMER_FETCHING
        set_flag = self.diag.set_flag
        unset_flag = self.diag.unset_flag
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for

        yield_every = 100
        suspend_is_set = self.suspend_flow.is_set
        stopped_is_set = cast(Service, self)._stopped.is_set
        num_since_yield = 0
        sleep = asyncio.sleep

        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(flag_consumer_fetching)
                # SalesPulse: a short wait while a partition is left out for its full agent buffer
                timeout = BUFFERED_POLL_S if self._buffered_partitions else 1.0
                ait = cast(AsyncIterator, getmany(timeout=timeout))
                got = 0  # SalesPulse: records this round (a quiet worker fetches less often)

                # Sleeping because sometimes getmany is called in a loop
                # never releasing to the event loop
                await self.sleep(0)
                if not self.should_stop:
                    async for tp, message in ait:
                        got += 1
                        num_since_yield += 1
                        if num_since_yield > yield_every:
                            await sleep(0)
                            num_since_yield = 0

                        offset = message.offset
                        r_offset = get_read_offset(tp)
                        if r_offset is None or offset >= r_offset:
                            gap = offset - (r_offset or 0)
                            # We have a gap in income messages
                            if gap > 1 and r_offset:
                                acks_enabled = acks_enabled_for(message.topic)
                                if acks_enabled:
                                    await self._add_gap(tp, r_offset + 1, offset)
                            if commit_every is not None:
                                if self._n_acked >= commit_every:
                                    self._n_acked = 0
                                    await self.commit()
                            if suspend_is_set() or stopped_is_set():
                                await self.wait_first(callback(message), self.suspend_flow.wait())
                            else:  # SalesPulse: no four tasks per message (see FastDrainConsumer)
                                await callback(message)
                                if message.generation_id != self.app.consumer_generation_id:
                                    break  # SalesPulse: rebalanced meanwhile, the seek owns the read offsets
                            set_read_offset(tp, offset)
                        else:
                            self.log.dev(
                                "DROPPED MESSAGE ROFF %r: k=%r v=%r",
                                offset,
                                message.key,
                                message.value,
                            )
                    unset_flag(flag_consumer_fetching)
                    if got or timeout == 1.0:  # SalesPulse: quiet after a whole wait without records
                        self._thread.set_quiet(not got)

        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                # we're already stopping so ignore
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                # we're already stopping so ignore
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            unset_flag(flag_consumer_fetching)


FAST_DRAIN = faust.__version__ in FAST_DRAIN_FAUST_VERSIONS


class Producer(driver.Producer):
    async def on_stop(self) -> None:
        try:
            async with asyncio.timeout(PRODUCER_STOP_S):
                await super().on_stop()
        except TimeoutError:
            log.warning("producer did not stop within %.0f s (broker away?); records it held were not delivered: "
                        "their source events are redelivered, their HTTP senders were answered 503", PRODUCER_STOP_S)


class Transport(driver.Transport):
    Consumer = FastDrainConsumer if FAST_DRAIN else Consumer
    Producer = Producer
