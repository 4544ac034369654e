"""Feedback classification in a process of its own, fed in batches while the worker goes on.

Classification is pure Python and, on the worker's event loop, its largest single share
(12.8% of a drain's main thread, ~140 us per message); the worker's
loop is the pipeline's ceiling while the machine's other core has room. So the feedback agent
hands each message to `ClassifierProcess.submit` and goes on with the next event; a task sends
what has gathered to the process as one request while the previous answer is being applied (the
batch grows with the load; below GATHER_MIN messages it first waits GATHER_S, 5 ms, for more),
and applies each answer in order: the classified record,
its SQL row, an incident for urgent feedback, the customer's feedback figures.

Nothing is acked before it is applied: the feedback handler hands the event's ack to the item
(`Item.take_ack`, through the ingest agent) and the item passes it to the writer (`ack_after`)
once its row, records and the customer's figures are added, so they go in the same transaction
and are delivered before the ack, as when the agent classified inline; a flush never waits for
the process. A revoke or a shutdown waits for everything submitted (`settle`, a before-drain hook
of the writer) before the last flush. At most MAX_BACKLOG messages wait for the process: the
feedback agent waits past that (back-pressure).

The process builds the same FeedbackCore (agents/feedback/core.py) from the same configuration
and setting and gets every reviewer's correction, in order, with the next request (and all of
them again after a restart), so it answers as the worker's own core would. If it dies or cannot start, the batch is
classified in the worker (the same code) and the next batch starts another process.

The worker starts the process (`CHILD_MAIN`); it is never run by hand.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from agents.feedback.classifier import Classifier
from agents.feedback.core import FeedbackCore
from pipeline.db.sqlite_child import frame
from pipeline.metrics import Metrics
from pipeline.pipes import ChildProcess, serve
from schemas.events import FeedbackEvent, IncidentEvent
from schemas.feedback import ClassifiedFeedback

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Classified:
    """One feedback message, classified: the record (and its JSON body), an incident or None."""

    cf: ClassifiedFeedback
    body: bytes
    incident: IncidentEvent | None
    seconds: float


def classify_feedback(core: FeedbackCore, event: FeedbackEvent, classified_at: datetime) -> Classified:
    started = time.perf_counter()
    outcome = core.process(event, classified_at)
    seconds = time.perf_counter() - started
    return Classified(outcome.classified, outcome.classified.model_dump_json().encode(), outcome.incident, seconds)


def classify_batch(core: FeedbackCore, corrections: list[dict[str, Any]],
                   items: list[tuple[FeedbackEvent, datetime]]) -> list[Classified | str]:
    """Apply the corrections, then classify each item; an item that fails gives its error text."""
    for corr in corrections:
        try:
            core.correct(**corr)
        except Exception as exc:  # the worker logged it already when it applied the same correction
            log.debug("correction not applied: %s", exc)
    out: list[Classified | str] = []
    for event, classified_at in items:
        try:
            out.append(classify_feedback(core, event, classified_at))
        except Exception as exc:  # a bug or poison message: that event goes to the dead-letter topic
            out.append(f"{type(exc).__name__}: {exc}")
    return out


CHILD_MAIN = "import sys; from agents.feedback.pool import main; main(sys.argv[1:])"
Apply = Callable[[FeedbackEvent, Any, "Classified | str"], Awaitable[None]]


class Item:
    """One submitted message; its ack goes to the writer once it is applied."""

    __slots__ = ("event", "meta", "classified_at", "ack", "applied", "ack_after")

    def __init__(self, event: FeedbackEvent, meta: Any, classified_at: datetime,
                 ack_after: Callable[[Callable[[], object]], None]) -> None:
        self.event, self.meta, self.classified_at, self.ack_after = event, meta, classified_at, ack_after
        self.ack: Callable[[], object] | None = None
        self.applied = False

    def take_ack(self, ack: Callable[[], object]) -> None:
        if self.applied:
            self.ack_after(ack)
        else:
            self.ack = ack

    def done(self) -> None:
        self.applied = True
        if self.ack is not None:
            self.ack_after(self.ack)
            self.ack = None


class ClassifierProcess:
    """The worker's side. `submit` never waits; `run` is the task that feeds the process."""

    MAX_BACKLOG = 5_000  # messages submitted and not yet applied before the feedback agent waits
    # Fewer than GATHER_MIN waiting: wait GATHER_S for more before sending. At a steady 800-1,230
    # events/s one to three messages go per exchange without the wait (write, wake the process, read,
    # unpickle: 11.7% of the worker's busy loop at 800 ev/s); with 5 ms, 4-11.
    GATHER_MIN = 32
    GATHER_S = 0.005

    def __init__(self, config_dir: Path | None, fallback: FeedbackCore, apply: Apply,
                 ack_after: Callable[[Callable[[], object]], None], metrics: Metrics) -> None:
        raise_high = fallback.raise_high
        self.metrics = metrics
        self.fallback = fallback  # the worker's own core, with every correction applied too
        self.apply = apply
        self.ack_after = ack_after  # BatchWriter.ack_after
        # -c, not -m: the answers' classes must pickle as agents.feedback.pool's, not __main__'s
        self.child = ChildProcess(lambda: [sys.executable, "-c", CHILD_MAIN, str(config_dir or ""),
                                           "1" if raise_high else "0"])
        self._started = False
        self.disabled = False  # the process could not start: the worker classifies every batch
        self._queue: list[Item] = []
        self._corrections: list[dict[str, Any]] = []  # every one so far: a new process gets them all
        self._sent_corrections = 0
        self._submitted = 0
        self._applied = 0
        self._wake = asyncio.Event()
        self._progress = asyncio.Condition()
        self.fallbacks = 0  # batches the worker classified itself (the process was away)

    @property
    def backlog(self) -> int:
        return self._submitted - self._applied

    def submit(self, event: FeedbackEvent, meta: Any, classified_at: datetime) -> Item:
        item = Item(event, meta, classified_at, self.ack_after)
        self._queue.append(item)
        self._submitted += 1
        self._wake.set()
        return item

    def correct(self, correction: dict[str, Any]) -> None:
        """A reviewer's correction (already applied to `fallback`); the process gets it before its next batch."""
        self._corrections.append(correction)

    async def settle(self, backlog: int = 0) -> None:
        """Wait until everything submitted so far is applied (or at most `backlog` is left)."""
        target = self._submitted - backlog
        if self._applied >= target:
            return
        async with self._progress:
            await self._progress.wait_for(lambda: self._applied >= target)

    async def run(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._queue:
                    if len(self._queue) < self.GATHER_MIN:  # a steady trickle: let a few more come
                        await asyncio.sleep(self.GATHER_S)
                    batch, self._queue = self._queue, []
                    self.metrics.classifier_batch.observe(len(batch))
                    self.metrics.classifier_backlog.set(self.backlog)
                    results = await self._classify([(item.event, item.classified_at) for item in batch])
                    for item, result in zip(batch, results):
                        try:
                            await self.apply(item.event, item.meta, result)
                        except Exception:  # never stop the task: settle() would wait forever
                            log.exception("applying the classification of %s failed", item.event.event_id)
                        item.done()
                    self._applied += len(batch)
                    self.metrics.classifier_backlog.set(self.backlog)
                    async with self._progress:
                        self._progress.notify_all()
        finally:
            self.child.stop()

    async def _classify(self, items: list[tuple[FeedbackEvent, datetime]]) -> list[Classified | str]:
        if self.disabled:
            return self._in_worker(items)
        try:
            proc = self.child.proc
            if not self._started or proc is None or proc.poll() is not None:  # first, or it died since
                self.child.process()
                self._sent_corrections = 0  # a new process: every correction again
                self._started = True
                ready = await self.child.receive()
                if ready != "ready":
                    self.child.stop()
                    self.disabled = True
                    log.error("classifier process did not start (%s): feedback is classified in the worker", ready)
                    return self._in_worker(items)
            corrections = self._corrections[self._sent_corrections:]
            answer = await self.child.exchange((corrections, items))
            if not isinstance(answer, list) or len(answer) != len(items):
                raise ValueError(f"an answer of {type(answer).__name__} for {len(items)} messages")
            self._sent_corrections += len(corrections)
            return answer
        except Exception as exc:  # ChildLost, or an answer that does not unpickle (a bug): never lose the batch
            self.child.stop()
            self.fallbacks += 1
            self._started = False
            log.warning("classifier process lost (%s): %d messages classified in the worker", exc, len(items))
            return self._in_worker(items)

    def _in_worker(self, items: list[tuple[FeedbackEvent, datetime]]) -> list[Classified | str]:
        self.metrics.classifier_fallbacks.inc()
        return classify_batch(self.fallback, [], items)


def main(argv: list[str]) -> None:
    config_dir, raise_high = argv[0] or None, argv[1] == "1"
    try:
        clf = Classifier.from_config(config_dir)
    except Exception as exc:  # the worker classifies itself and says why
        sys.stdout.buffer.write(frame(f"{type(exc).__name__}: {exc}"))
        return
    core = FeedbackCore(clf, raise_high=raise_high)
    serve(lambda request: classify_batch(core, request[0], request[1]))
