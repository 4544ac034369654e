"""The bench's simulated events -> the features' own work, each step timed, without broker or framework.

`salespulse bench` hands `features_phase` to the harness (`BenchConfig.features`): the runtime names no
capability, so what drives them is composed here. The worker's capabilities are built as the worker builds
them (`agents.build_worker`: every capability, its config, its ports) and their registered handlers are
called directly, in registration order, on the same events the pipeline phase drains:

- `decode_validate`: `pipeline.decode.decode`, with the ingest agent's arguments;
- one step per capability handler, named by its owner (`customer`, `kpi`, `receivables`, `signals`,
  `escalation`, `feedback`; the feedback subscribers `customer`, `cases`, `signals`; the follow-up sink
  `followups`), each the capability's own code: its core, its row and record builders, its metrics;
- `classification`: `FeedbackCore.process` (the classifier and the classified record);
- `output_records`: each record serialised as `Runtime.send` does, then dropped (no producer, no broker);
  the incidents raised are taken back in as the worker re-consumes them from incidents.raw;
- `sql_rows`: the events row (`agents.ingest.agent.event_row`) and the writer's real flush every
  `flush_events` events (dedupe, the compiled upserts, the parameter tuples, one SQLite transaction),
  run on this thread instead of the writer's process (`BatchWriter.write_in_process`); the capabilities'
  before-flush hooks (profiles, KPI rows) count as their capability's.

Not included (the glue): faust's stream and acks, the consume loop's dedupe and per-event metrics, the
admission gate, the producer and delivery confirmations, the pipes to the writer's and classifier's
processes, timers and HTTP.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from pathlib import Path

from pipeline import topics as T

# events per writer flush: a busy worker's 20 ms flush holds 40-100 of them at 2,000-5,000 events/s
FLUSH_EVENTS = 100

# a handler's owner (its bound instance's class) -> the step it is timed as
STEPS = {"Customers": "customer", "Kpis": "kpi", "Receivables": "receivables", "Signals": "signals",
         "Escalator": "escalation", "FeedbackCapability": "feedback", "Cases": "cases", "FollowUps": "followups"}


class StepClock:
    """Exclusive time per step: entering a step pauses the one it was entered from. One clock read per
    transition (perf_counter_ns: in one busy thread with nothing to wait for, wall time is its CPU)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Every step at zero from now on; what is not in a step is the driver's."""
        self.ns: dict[str, int] = {}
        self._stack: list[str] = ["driver"]
        self._at = time.perf_counter_ns()

    def stop(self) -> None:
        """Charge the time since the last transition (the driver's, once every step is left)."""
        self.enter("driver")
        self._stack.pop()

    def enter(self, step: str) -> None:
        now = time.perf_counter_ns()
        top = self._stack[-1]
        self.ns[top] = self.ns.get(top, 0) + now - self._at
        self._stack.append(step)
        self._at = now

    def leave(self) -> None:
        now = time.perf_counter_ns()
        top = self._stack.pop()
        self.ns[top] = self.ns.get(top, 0) + now - self._at
        self._at = now

    def timed(self, step: str, fn: Callable) -> Callable:
        """`fn` (a coroutine function) timed as `step`, exclusive of the steps it enters."""
        async def run(*args, **kwargs):
            self.enter(step)
            try:
                return await fn(*args, **kwargs)
            finally:
                self.leave()
        return run


def step_of(fn: Callable) -> str:
    owner = getattr(fn, "__self__", None)
    name = type(owner).__name__ if owner is not None else getattr(fn, "__qualname__", "other")
    return STEPS.get(name, name.lower())


class _TimedCore:
    """FeedbackCore with its `process` timed as `classification` (the capability calls core.process)."""

    def __init__(self, core, clock: StepClock) -> None:
        self.core, self.clock = core, clock

    def process(self, event, now):
        self.clock.enter("classification")
        try:
            return self.core.process(event, now)
        finally:
            self.clock.leave()

    def __getattr__(self, name):
        return getattr(self.core, name)


class _Alerts:
    """The escalation dispatcher's place: each page becomes its escalations record (what TopicNotifier
    produces), serialised and dropped; delivery to people is not the event's work."""

    def __init__(self, clock: StepClock, count: Callable[[], None]) -> None:
        self.clock, self.count = clock, count

    def submit(self, alert) -> bool:
        self.clock.enter("output_records")
        alert.incident_key.encode(), alert.model_dump_json().encode()
        self.count()
        self.clock.leave()
        return True


def partitions_of(keys: list[bytes | None], partitions: int) -> list[int]:
    """The partition the producer's default partitioner (murmur2 of the key) gives each key."""
    from aiokafka.partitioner import DefaultPartitioner

    part = DefaultPartitioner()
    every = list(range(partitions))
    return [part(k, every, every) for k in keys]


def features_phase(events: list[tuple[str, bytes, bytes]], *, partitions: int, workdir: Path,
                   flush_events: int = FLUSH_EVENTS, staged: bool = False,
                   progress: Callable[[str], None] = lambda s: None) -> dict:
    """Run every event (input topic spec name, key, JSON body) through the features' own steps; returns
    the phase's figures: CPU per event (this thread, the whole phase) and the steps' us per event.

    Event by event, every step of one event before the next, as the worker's per-event loop runs them;
    `staged`: each flush's events one step at a time (all decoded, then each capability's handlers over
    all of them in registration order, then their events rows), as a worker taking its events in
    batches would (issue 28's second item); the same work, measured no cheaper so far (bench/README.md)."""
    from agents import build_worker
    from pipeline.db.migrate import upgrade
    from pipeline.metrics import Metrics
    from pipeline.settings import DatabaseSettings, KafkaSettings, Settings, WorkerSettings

    workdir = Path(workdir) / "features"
    workdir.mkdir(parents=True, exist_ok=True)
    settings = Settings(kafka=KafkaSettings(partitions=partitions),
                        database=DatabaseSettings(url=f"sqlite+aiosqlite:///{workdir / 'features.db'}"),
                        # classified inline: the classifier's work, without its process's pipes
                        worker=WorkerSettings(classifier_process=False, data_dir=workdir / "worker"))
    worker = build_worker(settings, Metrics())

    async def _migrate() -> None:
        await upgrade(worker.rt.engine)
        await worker.rt.engine.dispose()

    asyncio.run(_migrate())
    parts = partitions_of([k for _, k, _ in events], partitions)
    thresholds = gc.get_threshold()
    gc.collect()
    gc.freeze()  # as the worker does (pipeline/worker.py tune_gc)
    gc.set_threshold(*settings.worker.gc_threshold)
    try:
        return asyncio.run(_drive(worker, events, parts, partitions, flush_events, staged, progress))
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
        worker.rt.writer.close()


async def _drive(worker, events, parts, partitions: int, flush_events: int, staged: bool, progress) -> dict:
    from datetime import timedelta

    from agents.ingest.agent import EVENTS, event_row
    from pipeline.decode import Rejected, decode
    from pipeline.runtime import Meta, now_utc

    rt = worker.rt
    clock = StepClock()
    counts = {"records": 0, "rejected": 0, "derived": 0}
    derived: list[tuple[bytes | None, bytes]] = []

    def count_record() -> None:
        counts["records"] += 1

    async def send(spec: T.TopicSpec, key, value) -> None:
        clock.enter("output_records")
        body = value if isinstance(value, bytes) else value.model_dump_json().encode()
        k = key.encode() if isinstance(key, str) else key
        counts["records"] += 1
        if spec.name == T.INCIDENTS_RAW.name:  # re-consumed by the worker's incidents agent
            derived.append((k, body))
        clock.leave()

    rt.send = send
    by_type = {et: list(hs) for et, hs in rt.handlers.items()}
    for event_type, handlers in rt.handlers.items():
        rt.handlers[event_type] = [clock.timed(step_of(h), h) for h in handlers]
    # the handlers' steps in registration order (a customer's profile takes an incident before escalation reads it)
    order = list(dict.fromkeys(step_of(h) for hs in by_type.values() for h in hs))
    by_step = {et: {step: [timed for h, timed in zip(hs, rt.handlers[et]) if step_of(h) == step] for step in order}
               for et, hs in by_type.items()}
    feedback = worker.feedback
    feedback.subscribers[:] = [clock.timed(step_of(s), s) for s in feedback.subscribers]
    feedback.core = _TimedCore(feedback.core, clock)
    for capability in (worker.customers, worker.receivables):
        if capability is not None:
            capability.sink = clock.timed(step_of(capability.sink), capability.sink)
    worker.escalator.dispatcher = _Alerts(clock, count_record)
    writer = rt.writer
    writer.wrap_hooks(lambda hook: clock.timed(step_of(hook), hook))
    sql = writer.write_in_process()
    flush = clock.timed("sql_rows", writer.flush)
    s = rt.settings.worker
    max_bytes, skew = s.max_event_bytes, timedelta(seconds=s.future_tolerance_s)
    expected = {spec.name: frozenset(t for t, sp in T.TOPIC_FOR_EVENT_TYPE.items() if sp == spec) for spec in T.INPUTS}
    await writer.flush()  # the hooks' first rows (partition histograms) before the clock starts
    offsets: dict[tuple[str, int], int] = {}

    def decoded(spec_name: str, key: bytes | None, raw: bytes, partition: int, received_at):
        offset = offsets[(spec_name, partition)] = offsets.get((spec_name, partition), -1) + 1
        meta = Meta(spec_name, partition, offset, received_at, raw, key)
        clock.enter("decode_validate")
        event = decode(raw, expected_types=expected[spec_name], max_bytes=max_bytes, not_after=received_at + skew)
        clock.leave()
        if isinstance(event, Rejected):
            counts["rejected"] += 1
            return None
        return event, meta

    def add_rows(taken) -> None:
        clock.enter("sql_rows")
        for event, meta in taken:
            writer.add(EVENTS, event_row(event, meta), source=meta)
        clock.leave()

    async def take(batch: list[tuple[str, bytes | None, bytes, int]], received_at) -> None:
        if not staged:
            for spec_name, key, raw, partition in batch:
                if (got := decoded(spec_name, key, raw, partition, received_at)) is not None:
                    for handler in rt.handlers.get(got[0].event_type, ()):
                        await handler(*got)
                    add_rows([got])
            return
        taken = [got for item in batch if (got := decoded(*item, received_at)) is not None]
        for step in order:
            for event, meta in taken:
                for handler in by_step.get(event.event_type, {}).get(step, ()):
                    await handler(event, meta)
        add_rows(taken)

    n = len(events)
    processed = 0
    cpu0, wall0 = time.thread_time(), time.perf_counter()
    clock.reset()
    last_note = wall0
    for start in range(0, n, flush_events):
        received_at = now_utc()
        await take([(*events[i], parts[i]) for i in range(start, min(n, start + flush_events))], received_at)
        processed += min(n, start + flush_events) - start
        while derived:  # the incidents this batch raised, consumed as the worker consumes them again
            again, derived[:] = list(derived), []
            await take([(T.INCIDENTS_RAW.name, key, raw, p)
                        for (key, raw), p in zip(again, partitions_of([k for k, _ in again], partitions))], received_at)
            processed += len(again)
            counts["derived"] += len(again)
        await flush()
        if time.perf_counter() - last_note > 5:
            progress(f"  features: {min(n, start + flush_events):,} / {n:,}")
            last_note = time.perf_counter()
    cpu, wall = time.thread_time() - cpu0, time.perf_counter() - wall0
    clock.stop()
    per_event = {step: round(ns / processed / 1000, 1) for step, ns in sorted(clock.ns.items()) if step != "driver"}
    return {"order": "staged" if staged else "interleaved",
            "events": processed, "input_events": n, "derived_incidents": counts["derived"],
            "rejected": counts["rejected"], "flush_events": flush_events, "seconds": round(wall, 2),
            "cpu_us_per_event": round(cpu / processed * 1e6, 1) if processed else None,
            "wall_us_per_event": round(wall / processed * 1e6, 1) if processed else None,
            "steps": per_event,
            "driver_us_per_event": round(clock.ns.get("driver", 0) / processed / 1000, 1) if processed else None,
            "records_per_event": round(counts["records"] / processed, 3) if processed else None,
            "rows_per_event": round(sql.rows / processed, 3) if processed else None}
