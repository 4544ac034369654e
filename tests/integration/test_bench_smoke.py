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
        [sys.executable, "-m", "pipeline.cli.main", "bench", "--broker", "tansu", "--events", "3000",
         "--skip-latency", "--json-out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=170,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report == json.loads(out.read_text())
    for phase in ("client", "floor_ours", "floor_default", "pipeline"):
        assert report[phase]["ev_per_s"] > 0, phase
    assert report["client"]["events"] >= 3000
    assert report["floor_ours"]["events"] == report["floor_default"]["events"] == 3000
    assert report["memory"]["worker_peak_rss_mb"] > 0
    assert set(report["ratios"]) >= {"pipeline_over_floor", "pipeline_over_client", "floor_ours_over_default"}
    assert "latency" not in report
