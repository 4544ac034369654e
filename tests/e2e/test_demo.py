"""The README's first command: `salespulse demo` (what `make demo` runs) starts a broker, a worker
and the channels, shows progress, and leaves nothing running when it stops by itself."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from pipeline.brokers.base import free_port, process_alive
from tests.support.services import ROOT, broker_kinds

pytestmark = pytest.mark.e2e

PROGRESS = re.compile(r"^\[\s*\d+s\] sent (\d+)  processed (\d+)  dead letters (\d+)")


@pytest.mark.parametrize("kind", broker_kinds())
def test_the_demo_runs_the_product_and_stops_cleanly(kind, tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "agents.cli.main", "demo", "--broker", kind, "--seconds", "25", "--rate", "100",
         "--invalid-every", "40", "--web-port", str(free_port()), "--state-dir", str(tmp_path / "demo")],
        cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=240)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-3000:]
    assert "stopped cleanly" in out.stdout, text[-3000:]
    progress = [tuple(map(int, m.groups())) for line in out.stdout.splitlines() if (m := PROGRESS.match(line))]
    assert progress, text[-3000:]
    sent, processed, dead = progress[-1]
    assert sent >= 1000 and processed >= sent // 2, progress[-3:]  # the worker keeps up with the channels
    assert dead >= 1, progress[-3:]  # the malformed messages reach the dead-letter topic
    pids = [int(p) for p in re.findall(r"pid (\d+)", out.stdout)]
    assert len(pids) == 2, out.stdout[:1000]  # the broker's and the worker's
    assert not [p for p in pids if process_alive(p)], "a process of the demo is still running"
