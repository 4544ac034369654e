"""The classifier's own process (agents/feedback/pool.py), a real child process over real pipes:
it answers exactly as the worker's classifier would, corrections included, in order; settle()
returns only once everything submitted before it is applied; a killed process loses nothing."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from prometheus_client import CollectorRegistry

from agents.feedback.classifier import Classifier
from agents.feedback.core import FeedbackCore
from agents.feedback.pool import Classified, ClassifierProcess, classify_batch, classify_feedback
from pipeline.metrics import Metrics
from tests.support.factories import T0, make_feedback

DATA = Path(__file__).resolve().parents[2] / "data" / "feedback_labelled.jsonl"


def _events(n: int, start: int = 0) -> list:
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [make_feedback(customer_id=f"c-{i}", text=rows[i % len(rows)]["text"]) for i in range(start, start + n)]


class Recorder:
    """Stands in for the feedback capability's apply and the writer's ack_after."""

    def __init__(self) -> None:
        self.applied: list[tuple] = []
        self.acked: list = []  # (meta, how many were applied when its ack reached the writer)

    async def __call__(self, event, meta, out) -> None:
        self.applied.append((event, meta, out))

    def ack_after(self, ack) -> None:
        ack()

    def ack_for(self, meta):
        return lambda: self.acked.append((meta, len(self.applied)))


def _pool(rec: Recorder, config_dir=None, clf=None) -> ClassifierProcess:
    core = FeedbackCore(clf or Classifier.from_config(), raise_high=True)
    return ClassifierProcess(config_dir, core, rec, rec.ack_after, Metrics(CollectorRegistry()))


def _metric(pool: ClassifierProcess, name: str) -> float:
    return pool.metrics.registry.get_sample_value(name) or 0.0


async def _started(pool: ClassifierProcess) -> asyncio.Task:
    return asyncio.get_running_loop().create_task(pool.run())


async def _stop(task: asyncio.Task) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def _same(a: Classified, b: Classified) -> bool:
    return a.cf == b.cf and a.body == b.body and a.incident == b.incident


async def test_the_process_answers_as_the_worker_would_in_order():
    reference = Classifier.from_config()
    rec = Recorder()
    pool = _pool(rec)
    task = await _started(pool)
    try:
        events = _events(300)
        for i, e in enumerate(events):
            pool.submit(e, i, T0).take_ack(rec.ack_for(i))
            if i % 37 == 0:
                await asyncio.sleep(0)  # batches of several sizes
        await pool.settle()
        assert [m for _, m, _ in rec.applied] == list(range(300))
        # every ack reached the writer only after its message was applied (rows added), in order
        assert [m for m, _ in rec.acked] == list(range(300))
        assert all(applied >= m + 1 for m, applied in rec.acked)
        for e, _, out in rec.applied:
            assert isinstance(out, Classified)
            assert _same(out, classify_feedback(FeedbackCore(reference, raise_high=True), e, T0))
        assert any(out.incident is not None for _, _, out in rec.applied)  # the data holds urgent ones
        assert pool.fallbacks == 0 and pool.child.proc is not None
        batches = _metric(pool, "salespulse_feedback_classifier_batch_size_count")
        assert 1 <= batches < 300 and _metric(pool, "salespulse_feedback_classifier_batch_size_sum") == 300
        assert _metric(pool, "salespulse_feedback_classifier_backlog") == 0
    finally:
        await _stop(task)
    assert pool.child.proc is None, "the process is stopped with the task"


async def test_settle_waits_for_what_was_submitted_before_it():
    rec = Recorder()
    pool = _pool(rec)
    task = await _started(pool)
    try:
        for i, e in enumerate(_events(50)):
            pool.submit(e, i, T0)
        assert rec.applied == []  # submit never classifies
        await pool.settle()
        assert len(rec.applied) == 50
        await pool.settle()  # nothing new: at once
        item = pool.submit(_events(1)[0], "late ack", T0)
        await pool.settle()
        assert rec.acked == []
        item.take_ack(rec.ack_for("late ack"))  # applied before its ack came: to the writer at once
        assert rec.acked == [("late ack", 51)]
    finally:
        await _stop(task)


async def test_corrections_reach_the_process_before_the_next_batch_and_again_after_a_restart():
    text = "Delivery was two weeks late and nobody answered my emails."
    worker_clf = Classifier.from_config()
    rec = Recorder()
    pool = _pool(rec, clf=worker_clf)
    task = await _started(pool)
    try:
        pool.submit(make_feedback(text=text), "before", T0)
        await pool.settle()
        assert rec.applied[-1][2].cf.category == "delivery"
        corr = {"text": text, "category": "service", "sentiment": None, "urgency": None}
        worker_clf.apply_correction(**corr)  # as refresh_corrections does: the worker's first, then the process's
        pool.correct(corr)
        similar = make_feedback(text="Delivery was two weeks late and nobody answered my calls.")
        pool.submit(make_feedback(text=text), "after", T0)
        pool.submit(similar, "similar", T0)
        await pool.settle()
        assert rec.applied[-2][2].cf.category == "service"
        worker_core = FeedbackCore(worker_clf, raise_high=True)
        assert _same(rec.applied[-1][2], classify_feedback(worker_core, similar, T0)), "the nudged model too"

        first = pool.child.proc.pid
        os.kill(first, signal.SIGKILL)
        pool.child.proc.wait()
        pool.submit(make_feedback(text=text), "restarted", T0)  # a new process, every correction again
        await pool.settle()
        assert pool.fallbacks == 0 and pool.child.proc.pid != first
        assert rec.applied[-1][2].cf.category == "service"

        # a process that goes away while it holds a batch: the worker classifies that batch itself
        argv = pool.child.argv
        pool.child.argv = lambda: [sys.executable, "-c", "import sys; from pipeline.db.sqlite_child import frame; "
                                   "sys.stdout.buffer.write(frame('ready'))"]
        os.kill(pool.child.proc.pid, signal.SIGKILL)
        pool.child.proc.wait()
        pool.submit(make_feedback(text=text), "lost", T0)
        await pool.settle()
        assert pool.fallbacks == 1 and rec.applied[-1][2].cf.category == "service"
        assert _metric(pool, "salespulse_feedback_classifier_fallbacks_total") == 1
        pool.child.argv = argv
        pool.submit(make_feedback(text=text), "again", T0)
        await pool.settle()
        assert pool.fallbacks == 1 and rec.applied[-1][2].cf.category == "service"
        assert [m for _, m, _ in rec.applied] == ["before", "after", "similar", "restarted", "lost", "again"]
    finally:
        await _stop(task)


async def test_a_message_that_fails_gives_its_error_and_the_rest_are_classified():
    class Poison(Classifier):
        def classify(self, text, **kw):
            if "poison" in text:
                raise ValueError("cannot classify this")
            return super().classify(text, **kw)

    clf = Poison(Classifier.from_config().config)
    events = [make_feedback(text="great service"), make_feedback(text="poison pill"), make_feedback(text="late again")]
    out = classify_batch(FeedbackCore(clf, raise_high=True), [], [(e, T0) for e in events])
    assert out[1] == "ValueError: cannot classify this"
    assert isinstance(out[0], Classified) and isinstance(out[2], Classified)


async def test_a_process_that_cannot_start_leaves_the_worker_classifying():
    rec = Recorder()
    pool = _pool(rec, config_dir=Path("/nonexistent/classifier"))
    task = await _started(pool)
    try:
        for i, e in enumerate(_events(5)):
            pool.submit(e, i, T0)
        await pool.settle()
        assert pool.disabled and len(rec.applied) == 5
        assert _metric(pool, "salespulse_feedback_classifier_fallbacks_total") >= 1
        assert all(isinstance(out, Classified) for _, _, out in rec.applied)
    finally:
        await _stop(task)


async def test_a_trickle_of_messages_goes_to_the_process_in_gathered_batches():
    """One message every millisecond: the task waits GATHER_S for more before a small batch goes,
    so a request carries several messages, not one per exchange."""
    rec = Recorder()
    pool = _pool(rec)
    task = await _started(pool)
    try:
        pool.submit(_events(1)[0], "warm-up", T0)  # the process started and answering
        await pool.settle()
        before = _metric(pool, "salespulse_feedback_classifier_batch_size_count")
        for i, e in enumerate(_events(60)):
            pool.submit(e, i, T0)
            await asyncio.sleep(0.001)
        await pool.settle()
        assert [m for _, m, _ in rec.applied[1:]] == list(range(60))
        batches = _metric(pool, "salespulse_feedback_classifier_batch_size_count") - before
        # ~1 ms apart: 60 requests without the gathering wait (measured), ~11 with 5 ms
        assert batches <= 20, batches
    finally:
        await _stop(task)
