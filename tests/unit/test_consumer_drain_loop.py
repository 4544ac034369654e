"""FastDrainConsumer is faust's own drain loop with a few statements changed (the callback awaited
directly, getmany's wait while a partition is left out for a full buffer, the quiet fetch wait
after a round without records): checked against the
installed faust's source, so an upgrade cannot silently run a stale copy."""

from __future__ import annotations

import inspect
import textwrap

import faust
from faust.transport.consumer import Consumer as FaustConsumer

from pipeline import transport


def _lines(fn) -> list[str]:
    return [ln.strip() for ln in textwrap.dedent(inspect.getsource(fn)).splitlines() if ln.strip()
            and not ln.strip().startswith("#")]


def test_the_fast_drain_loop_is_fausts_with_the_wait_first_call_guarded_and_the_short_wait():
    assert transport.FAST_DRAIN == (faust.__version__ in transport.FAST_DRAIN_FAUST_VERSIONS)
    if not transport.FAST_DRAIN:  # another faust: its own loop runs, nothing copied is used
        assert transport.Transport.Consumer is transport.Consumer
        return
    assert transport.Transport.Consumer is transport.FastDrainConsumer
    theirs = _lines(FaustConsumer._drain_messages)
    ours = _lines(transport.FastDrainConsumer._drain_messages)
    added = {"suspend_is_set = self.suspend_flow.is_set", "stopped_is_set = cast(Service, self)._stopped.is_set",
             "if suspend_is_set() or stopped_is_set():",
             "await self.wait_first(callback(message), self.suspend_flow.wait())",
             "else:  # SalesPulse: no four tasks per message (see FastDrainConsumer)", "await callback(message)",
             "timeout = BUFFERED_POLL_S if self._buffered_partitions else 1.0",
             "ait = cast(AsyncIterator, getmany(timeout=timeout))",
             "got = 0  # SalesPulse: records this round (a quiet worker fetches less often)", "got += 1",
             "if got or timeout == 1.0:  # SalesPulse: quiet after a whole wait without records",
             "self._thread.set_quiet(not got)",
             "if message.generation_id != self.app.consumer_generation_id:",
             "break  # SalesPulse: rebalanced meanwhile, the seek owns the read offsets"}
    removed = {"await self.wait_first(", "callback(message), self.suspend_flow.wait()", ")",
               "ait = cast(AsyncIterator, getmany(timeout=1.0))"}
    assert [ln for ln in ours if ln not in added | removed][1:] == [ln for ln in theirs if ln not in removed][1:]
    assert all(ln in ours for ln in added)


def test_the_quiet_fetch_wait_is_never_below_the_fetch_wait():
    from pipeline.settings import KafkaSettings

    assert KafkaSettings(flavour="kafka").quiet_fetch_wait_ms == KafkaSettings(flavour="tansu").quiet_fetch_wait_ms == 100
    assert KafkaSettings(idle_fetch_max_wait_ms=250).quiet_fetch_wait_ms == 250
    assert KafkaSettings(fetch_max_wait_ms=800).quiet_fetch_wait_ms == 800
    assert KafkaSettings(idle_fetch_max_wait_ms=0).quiet_fetch_wait_ms == 10  # no quiet wait: the fetch wait


def test_the_app_hands_the_quiet_wait_to_its_consumer(tmp_path):
    from pipeline.app import create_app
    from pipeline.settings import Settings

    rt = create_app(Settings(kafka={"flavour": "tansu", "idle_fetch_max_wait_ms": 150},
                             worker={"data_dir": str(tmp_path)}, database={"url": f"sqlite+aiosqlite:///{tmp_path}/d.db"}))
    assert rt.app.conf.salespulse_idle_fetch_max_wait_ms == 150
    assert rt.app.conf.salespulse_fetch_max_wait_ms == 10


def test_a_callback_that_ends_after_a_rebalance_leaves_the_read_offset_to_the_seek(tmp_path):
    """The drain loop's callback waits (a full agent buffer) through a rebalance whose seek sets the
    partition's read offset back to the committed 100; the stale message's offset must not replace
    it, or every record read again below it is dropped as already read."""
    import asyncio

    from faust.types import TP
    from faust.types.tuples import ConsumerMessage

    from pipeline.app import create_app
    from pipeline.settings import Settings

    if not transport.FAST_DRAIN:
        return  # faust's own loop runs
    rt = create_app(Settings(kafka={"flavour": "tansu"}, worker={"data_dir": str(tmp_path)},
                             database={"url": f"sqlite+aiosqlite:///{tmp_path}/d.db"}))
    app, consumer = rt.app, rt.app.consumer
    tp = TP("orders", 1)
    app.consumer_generation_id = 1
    fetched = [ConsumerMessage("orders", 1, o, 0.0, 0, None, None, b"{}", None, tp=tp, generation_id=1)
               for o in (180, 181, 182)]
    delivered = []

    class Fetcher:
        _stopped = asyncio.Event()

    async def getmany(timeout):
        Fetcher._stopped.set()  # one round
        for m in fetched:
            yield tp, m

    async def callback(message):
        delivered.append(message.offset)
        if message.offset == 181:  # the rebalance happens while this put waits
            app.consumer_generation_id = 2
            consumer._read_offset[tp] = 100  # what perform_seek sets

    consumer.getmany, consumer.callback = getmany, callback
    asyncio.run(consumer._drain_messages(Fetcher()))
    assert delivered == [180, 181]  # the rest of the stale fetch is left
    assert consumer._read_offset[tp] == 100
