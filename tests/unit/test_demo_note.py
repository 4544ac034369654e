"""The demo's note on the embedded broker's growing load: measured over a whole window, once."""

from __future__ import annotations

import os
import time

from agents.cli.demo import TANSU_NOTE_CORES, BrokerLoad, tansu_note


def test_broker_load_needs_half_a_window_then_reads_a_busy_process():
    load = BrokerLoad(os.getpid(), window_s=1.0)  # this process stands in for the broker
    start = time.monotonic()
    assert load.cores(start) is None  # one mark: no window yet
    while time.monotonic() - start < 1.0:
        pass  # a busy second
    cores = load.cores(time.monotonic())
    assert cores is not None and cores >= 0.8 > TANSU_NOTE_CORES
    assert "salespulse demo --broker kafka" in tansu_note(cores)


def test_broker_load_of_an_idle_process_stays_under_the_note():
    load = BrokerLoad(os.getpid(), window_s=0.4)
    start = time.monotonic()
    load.cores(start)
    time.sleep(0.5)
    cores = load.cores(time.monotonic())
    assert cores is not None and cores < TANSU_NOTE_CORES


def test_broker_load_of_a_gone_process_is_unknown():
    assert BrokerLoad(None).cores(time.monotonic()) is None
