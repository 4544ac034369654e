"""FastDrainConsumer is faust's own drain loop with two statements changed (the callback awaited
directly, getmany's wait while a partition is left out for a full buffer): checked against the
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
             "ait = cast(AsyncIterator, getmany(timeout=BUFFERED_POLL_S if self._buffered_partitions else 1.0))"}
    removed = {"await self.wait_first(", "callback(message), self.suspend_flow.wait()", ")",
               "ait = cast(AsyncIterator, getmany(timeout=1.0))"}
    assert [ln for ln in ours if ln not in added | removed][1:] == [ln for ln in theirs if ln not in removed][1:]
    assert all(ln in ours for ln in added)
