"""`salespulse emit` against a real broker: bad lines reported, good ones sent."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agents.cli.main", *args], input=stdin,
                          capture_output=True, text=True, timeout=60)


def test_emit_reports_invalid_lines_and_sends_the_rest(broker, run_id):
    from tests.support.factories import make_order
    from tests.support.services import read_topic

    good = make_order().model_dump_json()
    lines = f'{good}\n{{"event_type": "order", "amount": 1}}\nnot json\n'
    r = run("emit", "-", "--broker", broker.bootstrap, "--topic-prefix", f"e{run_id}.", stdin=lines)
    assert r.returncode == 1
    assert "line 2: invalid event:" in r.stderr and "line 3:" in r.stderr and "Traceback" not in r.stderr
    assert "sent 1 events, 2 invalid" in r.stderr
    records = read_topic(broker.bootstrap, f"e{run_id}.orders", expect=1, timeout=20)
    assert [json.loads(r.value)["event_id"] for r in records] == [json.loads(good)["event_id"]]
