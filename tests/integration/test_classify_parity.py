"""`salespulse classify` and a real worker on a broker, the same feedback through both: the incident
classify shows for each message is the one the worker puts on incidents.raw (key, severity, category,
title), and a message the worker raises nothing for shows null; with high-urgency incidents on and off."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from pipeline.emitter import Emitter
from schemas.events import Channel
from tests.support.factories import make_feedback
from tests.support.services import read_topic

pytestmark = pytest.mark.integration

TEXTS = [
    ("c-a", "the charger caught fire and burned my hand"),
    ("c-b", "Cancel my order and refund me immediately, this is unacceptable."),
    ("c-c", "Fast delivery, thanks!"),
    ("c-a", "充电器冒烟了，还有烧焦的味道，太危险了！"),
]


@pytest.mark.parametrize("raise_high", [True, False], ids=["raise-high", "critical-only"])
def test_classify_shows_the_incident_the_worker_raises(broker, make_worker, run_id, raise_high):
    setting = {"SALESPULSE_WORKER__RAISE_HIGH_FEEDBACK": str(raise_high).lower()}
    w = make_worker(**setting)
    w.wait_ready()
    msgs = [make_feedback(customer_id=c, text=t, channel=Channel.chat) for c, t in TEXTS]

    # the offline command, reading the same setting from the environment
    lines = "".join(json.dumps({"text": m.text, "customer_id": m.customer_id, "channel": "chat"},
                               ensure_ascii=False) + "\n" for m in msgs)
    proc = subprocess.run([sys.executable, "-m", "agents.cli.main", "classify"], capture_output=True, text=True,
                          input=lines, timeout=60, env={**os.environ, **setting})
    assert proc.returncode == 0, proc.stderr
    offline = [json.loads(x)["incident"] for x in proc.stdout.splitlines()]
    expected = [x for x in offline if x is not None]
    assert len(expected) == (3 if raise_high else 2)

    prefix = f"t{run_id}."
    with Emitter(broker.bootstrap, topic_prefix=prefix) as em:
        for m in msgs:
            em.emit(m)
    assert len(read_topic(broker.bootstrap, f"{prefix}feedback.classified", expect=len(msgs), timeout=30)) == len(msgs)
    raw = read_topic(broker.bootstrap, f"{prefix}incidents.raw", expect=len(expected), timeout=30)
    # nothing more arrives: the message classify shows null for raised nothing in the worker either
    raw = read_topic(broker.bootstrap, f"{prefix}incidents.raw", expect=len(expected) + 1, timeout=3) or raw
    by_customer_text = {(json.loads(r.value)["customer_id"], json.loads(r.value)["title"]): json.loads(r.value)
                        for r in raw}
    assert len(raw) == len(by_customer_text) == len(expected)
    for m, shown in zip(msgs, offline, strict=True):
        worker = by_customer_text.get((m.customer_id, m.text))
        if shown is None:
            assert worker is None, m.text
        else:
            assert worker is not None, m.text
            assert {k: worker[k] for k in ("category", "severity", "incident_key", "title")} == shown
