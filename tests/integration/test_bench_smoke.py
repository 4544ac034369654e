"""`salespulse bench` end to end on a tiny preload (Tansu): every phase runs and the report adds up."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support.services import ROOT

pytestmark = pytest.mark.integration


@pytest.mark.timeout(180)
def test_bench_tiny_run_prints_one_report(tmp_path):
    out = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, "-m", "agents.cli.main", "bench", "--broker", "tansu", "--events", "3000",
         "--latency-seconds", "2", "--json-out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=170,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report == json.loads(out.read_text())
    for phase in ("client", "floor_ours", "floor_default", "pipeline"):
        assert (report[phase]["ev_per_s"] or 0) > 0, (phase, report[phase])
    assert report["client"]["events"] >= 3000
    assert report["floor_ours"]["events"] == report["floor_default"]["events"] == 3000
    assert report["memory"]["worker_peak_rss_mb"] > 0
    assert set(report["ratios"]) >= {"pipeline_over_floor", "pipeline_over_client", "floor_ours_over_default"}
    # the features' own steps on the same events, and the glue around them, at the report's top level
    features = report["features"]
    assert features["input_events"] == 3000 and features["rejected"] == 0
    assert features["steps"]["decode_validate"] > 0 and features["steps"]["sql_rows"] > 0
    assert report["features_cpu_us_per_event"] == features["cpu_us_per_event"] > 0
    assert report["pipeline_cpu_us_per_event"] == report["pipeline"]["cpu_us_per_event"] > 0
    assert report["glue_ratio"] == round(report["pipeline_cpu_us_per_event"] / report["features_cpu_us_per_event"], 3)
    lat = report["latency"]  # a short steady-rate phase at half the pipeline's rate
    offered = lat["offered"]
    assert offered > 0 and lat["to_sql_row"]["n"] == offered and lat["to_sql_row"]["missing"] == 0
    # split at the worker's received_at: every event in both parts, the parts within the whole
    assert lat["to_worker_taken"]["n"] == lat["taken_to_sql_row"]["n"] == lat["to_broker_acked"]["n"] == offered
    assert 0 <= lat["to_broker_acked"]["p50_ms"] <= lat["to_worker_taken"]["max_ms"]
    assert 0 <= lat["to_worker_taken"]["p50_ms"] <= lat["to_sql_row"]["max_ms"]
    assert 0 <= lat["taken_to_sql_row"]["p50_ms"] <= lat["to_sql_row"]["max_ms"]
    cores = lat["cpu_cores"]
    assert cores["worker"] > 0 and cores["broker"] > 0 and cores["harness"] > 0 and cores["helpers"] >= 0
