"""Benchmark harness: N preloaded simulated events -> client limit, faust floor (ours and
faust's defaults), whole pipeline, end-to-end latency, worker memory -> one JSON object.

    salespulse bench --broker tansu --events 200000 [--workers-mode] [--skip-latency]

Every consumer reads the same preloaded topics (one unique prefix per run) with its own
consumer group, so the figures compare like with like. Throughputs are measured from the
moment the consumer(s) started reading to the moment the N-th event was counted: start-up
and group joins are excluded.

One module per phase, in the order `runner.run` measures them: `preload` (the simulated
events), the features' own steps alone (0, `BenchConfig.features`: handed in by the composition side,
`agents/bench_features.py`, since the runtime names no capability), `client` (1, the client limit), `floor` (2, no-op faust workers), `whole_pipeline` (3, the
whole pipeline until written), `latency` (4), `workers_mode` (two workers); `report` and
`compare` assemble the figures, `figures`, `cpu`, `worker`, `process` and `profile` measure.
"""

from pipeline.bench.client import client_limit
from pipeline.bench.compare import MACHINE_DRIFT, RSS_NOISE_MB, compare_customers
from pipeline.bench.cpu import (
    busy_cores, child_pids, cores_between, cpu_seconds, cpu_split, cpu_stat, steal_share, vm_hwm_kb,
)
from pipeline.bench.figures import latency_summary, mib, percentile, rate, ratio, rounded, window_rate, written_rate
from pipeline.bench.floor import floor_main, framework_floor
from pipeline.bench.latency import LATENCY_TICK_S, PLACEHOLDER_AT, _poll_sql, latency_run, stamp_occurred_at
from pipeline.bench.preload import PRELOAD_PRODUCER, produce, simulated, wait_for_partitions
from pipeline.bench.profile import profile_summary, start_profile, stop_profile
from pipeline.bench.report import TARGETS, assemble
from pipeline.bench.runner import BenchConfig, machine, run
from pipeline.bench.whole_pipeline import drain, settled_profiles
from pipeline.bench.worker import CONSUMED, PENDING, Worker, metric_value
from pipeline.bench.workers_mode import scaling

__all__ = [
    "CONSUMED", "LATENCY_TICK_S", "MACHINE_DRIFT", "PENDING", "PLACEHOLDER_AT", "PRELOAD_PRODUCER", "RSS_NOISE_MB",
    "TARGETS", "BenchConfig", "Worker", "_poll_sql", "assemble", "busy_cores", "child_pids", "client_limit",
    "compare_customers", "cores_between", "cpu_seconds", "cpu_split", "cpu_stat", "drain", "floor_main",
    "framework_floor", "latency_run", "latency_summary", "machine", "metric_value", "mib", "percentile", "produce",
    "profile_summary", "rate", "ratio", "rounded", "run", "scaling", "settled_profiles", "simulated",
    "stamp_occurred_at", "start_profile", "steal_share", "stop_profile", "vm_hwm_kb", "wait_for_partitions",
    "window_rate", "written_rate",
]
