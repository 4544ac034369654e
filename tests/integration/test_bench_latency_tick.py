"""The bench's latency phase offers its events in ticks: every `tick_s` the events due go out
together, each stamped with its own send time (the broker and the harness then handle a few
requests a tick instead of one per event)."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from pipeline import topics as T
from pipeline.admin import ensure_topics
from pipeline.bench import latency_run
from pipeline.settings import Settings

pytestmark = pytest.mark.integration


async def _sent_times(bootstrap: str, prefix: str, n: int) -> list[float]:
    consumer = AIOKafkaConsumer(prefix + T.ORDERS.name, prefix + T.FEEDBACK_RAW.name, bootstrap_servers=bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    times: list[float] = []
    try:
        async with asyncio.timeout(30):
            while len(times) < n:
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    times += [datetime.fromisoformat(orjson.loads(r.value)["occurred_at"]).timestamp() for r in records]
    finally:
        await consumer.stop()
    return sorted(times)


def _bursts(times: list[float], gap_s: float) -> int:
    return 1 + sum(1 for a, b in zip(times, times[1:]) if b - a > gap_s)


@pytest.mark.parametrize("tick_s", [0.1, 0.005])
async def test_the_latency_phase_sends_what_is_due_once_a_tick(broker, run_id, tick_s):
    prefix = f"tick{run_id}."
    ensure_topics(Settings(kafka={"broker": broker.url, "flavour": broker.kind}, topic_prefix=prefix))
    result = await latency_run(broker.bootstrap, prefix, None, rate_per_s=200, seconds=1.0, seed=3,
                               settle_s=0.2, tick_s=tick_s)
    assert result["offered"] == 200 and result["tick_ms"] == tick_s * 1000
    times = await _sent_times(broker.bootstrap, prefix, 200)
    bursts = _bursts(times, gap_s=0.05)  # sends more than 50 ms apart
    if tick_s == 0.1:
        assert 8 <= bursts <= 13, bursts  # ~10 ticks in the second, ~20 events each
    else:
        assert bursts <= 5, bursts  # a 5 ms tick leaves no 50 ms gap (but for a rare stall of the process)


async def test_the_latency_phase_marks_the_window_of_its_steady_rate(broker, run_id):
    """The bench takes the phase's CPU split between these marks: from the clock's start to the
    last send, not the planning before (whose CPU is the harness's alone) nor the settling after."""
    prefix = f"mark{run_id}."
    ensure_topics(Settings(kafka={"broker": broker.url, "flavour": broker.kind}, topic_prefix=prefix))
    marks: list[tuple[str, float]] = []
    called = time.monotonic()
    result = await latency_run(broker.bootstrap, prefix, None, rate_per_s=400, seconds=1.0, seed=3,
                               settle_s=1.0, mark=lambda name: marks.append((name, time.monotonic())))
    returned = time.monotonic()
    assert [name for name, _ in marks] == ["start", "sent"]
    (_, start), (_, sent) = marks
    assert sent - start == pytest.approx(result["seconds"], abs=0.1)
    # no worker runs here, so the phase waits its whole settle (1 s) for outputs after the last send
    assert returned - sent >= 0.9
    assert start > called
