"""The bench's features phase: the simulated events through every capability's own steps, timed, and the
glue ratio the report derives from it and the pipeline phase."""

from __future__ import annotations

import asyncio

import pytest

from agents.bench_features import StepClock, features_phase, partitions_of
from pipeline.bench import assemble, simulated

STEPS = {"decode_validate", "classification", "feedback", "customer", "kpi", "escalation", "cases", "signals",
         "output_records", "sql_rows"}


@pytest.fixture(scope="module")
def phase(tmp_path_factory):
    events = simulated(400, seed=7, customers=200)
    return features_phase(events, partitions=4, workdir=tmp_path_factory.mktemp("features"), flush_events=50)


def test_every_step_is_timed_and_positive(phase):
    assert set(phase["steps"]) >= STEPS
    for step in STEPS:
        assert phase["steps"][step] > 0, step
    assert phase["cpu_us_per_event"] > 0
    # the steps are what the phase's one busy thread spent: they add up to no more than its wall time
    assert sum(phase["steps"].values()) <= phase["wall_us_per_event"] * 1.01


def test_every_input_event_is_taken_and_raised_incidents_come_back(phase):
    assert phase["input_events"] == 400 and phase["rejected"] == 0
    assert phase["events"] == 400 + phase["derived_incidents"]
    assert phase["rows_per_event"] >= 1  # at least the events row of each
    assert 0 < phase["records_per_event"]


def test_glue_ratio_is_the_pipeline_over_the_features(phase):
    report = assemble({"features": phase, "pipeline": {"ev_per_s": 2000.0, "cpu_us_per_event": 540.0}})
    assert report["features_cpu_us_per_event"] == phase["cpu_us_per_event"]
    assert report["pipeline_cpu_us_per_event"] == 540.0
    assert report["glue_ratio"] == round(540.0 / phase["cpu_us_per_event"], 3)
    assert report["targets"]["glue_ratio"]["met"] is (report["glue_ratio"] <= 2.0)


def test_glue_figures_are_none_without_either_phase():
    report = assemble({"pipeline": {"ev_per_s": 2000.0, "cpu_us_per_event": 540.0}})
    assert report["features_cpu_us_per_event"] is None and report["glue_ratio"] is None
    assert "glue_ratio" not in report["targets"]
    report = assemble({"features": {"cpu_us_per_event": 120.0}, "pipeline": {"ev_per_s": 2000.0, "cpu_us_per_event": 300.0}})
    assert report["glue_ratio"] == 2.5 and report["targets"]["glue_ratio"]["met"] is False


def test_step_clock_charges_nested_steps_exclusively():
    clock = StepClock()

    async def inner():
        sum(range(20_000))

    async def outer():
        await clock.timed("inner", inner)()

    asyncio.run(clock.timed("outer", outer)())
    clock.stop()
    assert clock.ns["inner"] > 0 and clock.ns["outer"] > 0
    assert clock.ns["outer"] < clock.ns["inner"]  # the outer step did almost nothing itself


def test_partitions_are_the_producers_default_partitioner():
    keys = [b"cust-1", b"cust-2", b"cust-1", None]
    parts = partitions_of(keys, 4)
    assert parts[0] == parts[2] and all(0 <= p < 4 for p in parts)


def test_staged_order_does_the_same_work(phase, tmp_path):
    staged = features_phase(simulated(400, seed=7, customers=200), partitions=4, workdir=tmp_path, flush_events=50,
                            staged=True)
    assert staged["order"] == "staged" and phase["order"] == "interleaved"
    assert staged["events"] == phase["events"] and staged["derived_incidents"] == phase["derived_incidents"]
    assert staged["records_per_event"] == phase["records_per_event"]
    assert abs(staged["rows_per_event"] - phase["rows_per_event"]) <= 0.05 * phase["rows_per_event"]
    assert set(staged["steps"]) == set(phase["steps"])
