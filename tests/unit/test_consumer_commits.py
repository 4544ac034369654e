"""The consumer's commit never passes an unprocessed message (pipeline/transport.py, Consumer):
faust's acks of messages it dropped at a rebalance are refused, and the commit stops below the
first message of a partition still in flight. Each case also runs faust's own method on the same
state, to show what it would have committed."""

from __future__ import annotations

import faust.transport.consumer as faust_consumer
import pytest
from faust.types import TP
from faust.types.tuples import ConsumerMessage, Message

from pipeline import topics as T
from pipeline.app import create_app
from pipeline.settings import Settings


@pytest.fixture
def worker(tmp_path):
    rt = create_app(Settings(kafka={"flavour": "tansu"}, worker={"data_dir": str(tmp_path)},
                             database={"url": f"sqlite+aiosqlite:///{tmp_path}/d.db"}))
    name = rt.topic(T.ORDERS).get_topic_name()
    rt.app.topics.acking_topics.add(name)  # as the ingest agent's subscription does
    return rt, rt.app.consumer, TP(name, 0)


def fetched(tp: TP, offsets, taken: bool) -> list[ConsumerMessage]:
    """Messages as the fetcher makes them; `taken`: a stream yielded them (faust tracks them then)."""
    msgs = [ConsumerMessage(tp.topic, tp.partition, o, 0.0, 0, None, None, b"{}", None, tp=tp) for o in offsets]
    return [track(m) for m in msgs] if taken else msgs


def track(m: ConsumerMessage) -> ConsumerMessage:
    m.tracked = True
    return m


def test_the_consumer_is_ours(worker):
    from pipeline.transport import Consumer

    assert isinstance(worker[1], Consumer)


def test_the_commit_stops_below_the_first_message_still_in_flight(worker):
    rt, consumer, tp = worker
    consumer._committed_offset[tp] = 100
    msgs = fetched(tp, range(100, 106), taken=True)  # 100: feedback waiting for its classifier
    for m in msgs:
        consumer.unacked.add(m)
    for m in msgs[1:]:  # 101-105: a redelivery and a dead letter, acked with their batch
        assert consumer.ack(m)
    assert faust_consumer.Consumer._new_offset(consumer, tp) == 106  # faust alone: past 100
    consumer._acked[tp][:] = list(range(101, 106))  # (faust's call above took them off)
    consumer._acked_index[tp].update(range(101, 106))

    assert consumer._filter_committable_offsets({tp}) == {}
    assert sorted(consumer._acked[tp]) == [101, 102, 103, 104, 105]  # kept for later
    assert consumer.ack(msgs[0])
    assert consumer._filter_committable_offsets({tp}) == {tp: 106}


def test_a_commit_up_to_the_message_in_flight_is_made(worker):
    rt, consumer, tp = worker
    consumer._committed_offset[tp] = 100
    msgs = fetched(tp, range(100, 110), taken=True)
    for m in msgs:
        consumer.unacked.add(m)
    for m in msgs[:4] + msgs[5:]:  # 104 in flight
        consumer.ack(m)
    assert consumer._filter_committable_offsets({tp}) == {tp: 104}
    consumer._committed_offset[tp] = 104
    consumer.ack(msgs[4])
    assert consumer._filter_committable_offsets({tp}) == {tp: 110}


def test_acks_of_messages_faust_dropped_at_a_rebalance_are_refused(worker):
    rt, consumer, tp = worker
    consumer._committed_offset[tp] = 100
    processed = fetched(tp, range(100, 105), taken=True)  # taken before the rebalance
    dropped = fetched(tp, range(105, 110), taken=False)  # still in the agent's buffer: skipped
    for m in processed:
        consumer.unacked.add(m)
    assert [consumer.ack(m) for m in dropped] == [False] * 5
    assert rt.metrics.rebalance_skips._value.get() == 5
    for m in processed:
        consumer.ack(m)
    assert consumer._filter_committable_offsets({tp}) == {tp: 105}  # faust alone: 110, 105-109 never read again

    again = fetched(tp, range(105, 110), taken=True)  # read again from the committed offset, processed
    consumer._committed_offset[tp] = 105
    for m in again:
        consumer.unacked.add(m)
        assert consumer.ack(m)
    assert consumer._filter_committable_offsets({tp}) == {tp: 110}


def test_faust_itself_would_count_a_dropped_message(worker):
    rt, consumer, tp = worker
    assert faust_consumer.Consumer.ack(consumer, fetched(tp, [7], taken=False)[0])


def test_offsets_acked_for_an_undecodable_batch_still_count(worker):
    rt, consumer, tp = worker
    consumer._committed_offset[tp] = 100
    for offset in range(100, 103):  # as Consumer._ack_offsets does, once the dead letter is stored
        assert consumer.ack(Message(tp.topic, tp.partition, offset, 0.0, 0, None, None, None, None, tp=tp))
    assert consumer._filter_committable_offsets({tp}) == {tp: 103}


def test_a_partition_behind_and_not_moving_is_logged_once_with_its_fetch_state(worker, monkeypatch, caplog):
    import asyncio
    import logging

    from pipeline import runtime

    rt, consumer, tp = worker
    # caught at the logger itself: another test's logging set-up may stop it propagating, or disable it
    logger = logging.getLogger("pipeline.runtime")
    monkeypatch.setattr(logger, "disabled", False)
    monkeypatch.setattr(logger, "handlers", [*logger.handlers, caplog.handler])
    monkeypatch.setattr(logger, "propagate", False)  # (or it reaches caplog twice)
    monkeypatch.setattr(runtime, "STALL_S", 0.0)
    monkeypatch.setattr(consumer, "highwater", lambda tp: 3_244)
    rt.assigned = {tp}
    rt.state_ready.set()
    consumer._committed_offset[tp] = 100
    consumer._read_offset[tp] = 2_110  # read far past what was committed, nothing more read or committed

    async def ticks(n):
        for _ in range(n):
            await rt.update_lag()

    with caplog.at_level(logging.WARNING, logger="pipeline.runtime"):
        asyncio.run(ticks(3))
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1, lines
    assert "3144 behind" in lines[0] and "read 2110, committed 100" in lines[0] and "active=" in lines[0]
    assert "aiokafka state unavailable" in lines[0]  # the consumer was never started

    consumer._committed_offset[tp] = 3_244  # caught up: watched afresh
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="pipeline.runtime"):
        asyncio.run(ticks(2))
    assert not caplog.records
