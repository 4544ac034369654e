"""The worker's event loop setting: uvloop by default, asyncio on request (in a fresh process,
since the loop policy is process-wide)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

from pipeline.settings import WorkerSettings

PROBE = ("import asyncio; from pipeline.worker import use_event_loop; use_event_loop({!r}); "
         "loop = asyncio.new_event_loop(); print(type(loop).__module__.split('.')[0]); loop.close()")


@pytest.mark.parametrize("name, module", [("uvloop", "uvloop"), ("asyncio", "asyncio")])
def test_use_event_loop_sets_the_loop_of_every_new_loop(name, module):
    out = subprocess.run([sys.executable, "-c", PROBE.format(name)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == module


def test_default_is_uvloop_and_unknown_loops_are_refused():
    assert WorkerSettings().event_loop == "uvloop"
    with pytest.raises(ValidationError, match="event_loop"):
        WorkerSettings(event_loop="trio")
