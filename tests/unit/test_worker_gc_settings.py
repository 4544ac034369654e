"""The worker's garbage-collector set-up (in a fresh process: freezing is process-wide) and the
memory of seen event ids, kept as ints so the collector has nothing to walk in it."""

from __future__ import annotations

import gc
import subprocess
import sys
import uuid

import pytest
from pydantic import ValidationError

from pipeline.runtime import SeenIds
from pipeline.settings import WorkerSettings

PROBE = """
import gc, json
from pipeline import worker
from pipeline.bench import metric_value
from pipeline.metrics import Metrics
from prometheus_client import generate_latest
m = Metrics()
worker.freeze_loaded_state()              # not a worker process yet: leaves the GC alone
before = gc.get_freeze_count()
big = [[i] for i in range(50_000)]        # long-lived state made before the set-up
worker.tune_gc((5000, 7, 3), m)
after_tune = gc.get_freeze_count()
loaded = [[i] for i in range(30_000)]     # an assignment's state
worker.freeze_loaded_state()
gc.collect()
text = generate_latest(m.registry).decode()
paused = [metric_value(text, "salespulse_gc_pause_seconds_count", generation=g) for g in "012"]
print(json.dumps([before, after_tune, gc.get_freeze_count(), gc.get_threshold(), paused]))
"""


def test_tune_gc_freezes_startup_objects_and_sets_thresholds():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    import json

    before, after_tune, after_load, threshold, paused = json.loads(out.stdout)
    assert before == 0
    assert after_tune >= 50_000           # the 50,000 lists at least
    assert after_load - after_tune >= 30_000
    assert threshold == [5000, 7, 3]
    # every pass after the set-up is timed: freeze_loaded_state's young pass and the full one
    assert paused[1] >= 1 and paused[2] >= 1


def test_gc_threshold_setting_is_validated():
    assert WorkerSettings().gc_threshold == (20_000, 20, 10)
    assert WorkerSettings(gc_threshold=[700, 10, 10]).gc_threshold == (700, 10, 10)
    with pytest.raises(ValidationError, match="gc_threshold"):
        WorkerSettings(gc_threshold=[-1, 10, 10])
    with pytest.raises(ValidationError, match="gc_threshold"):
        WorkerSettings(gc_threshold=[700, 10])


def test_seen_ids_recognise_equal_uuids_and_hold_no_tracked_objects():
    seen = SeenIds(size=3)
    ids = [uuid.uuid4() for _ in range(4)]
    assert not seen.check_and_add(ids[0])
    assert seen.check_and_add(uuid.UUID(str(ids[0])))  # another object, the same id
    for i in ids[1:]:
        assert not seen.check_and_add(i)
    assert len(seen) == 3
    assert not seen.check_and_add(ids[0])              # the oldest was forgotten (bounded)
    assert not any(gc.is_tracked(k) for k in seen._ids)
    assert seen.check_and_add("not-a-uuid") is False and seen.check_and_add("not-a-uuid") is True
