"""Feedback in both languages through a real broker: classified events, SQL rows, incidents from critical ones,
and a reviewer's correction taking effect in the running worker; with the classifier in its own process
(the default) and in the worker's event loop."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pipeline.emitter import Emitter
from tests.support.factories import make_feedback
from tests.support.services import query, read_topic, wait_until

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("classifier_process", [True, False], ids=["own-process", "in-worker"])
def test_classified_and_critical_raised(broker, make_worker, db_url, run_id, classifier_process):
    w = make_worker(SALESPULSE_WORKER__CLASSIFIER_PROCESS=str(classifier_process).lower())
    w.wait_ready()
    msgs = [
        make_feedback(customer_id="c-en", text="The charger started smoking and smelled like burning plastic!"),
        make_feedback(customer_id="c-zh", text="充电器冒烟了，还有烧焦的味道，太危险了！"),
        make_feedback(customer_id="c-tw", text="店員服務很好，非常滿意，謝謝！", rating=5),
        make_feedback(customer_id="c-en2", text="Delivery was two weeks late and nobody answered my emails."),
    ]
    prefix = f"t{run_id}."
    with Emitter(broker.bootstrap, topic_prefix=prefix) as em:
        for m in msgs:
            em.emit(m)
    records = read_topic(broker.bootstrap, f"{prefix}feedback.classified", expect=4, timeout=30)
    by_id = {json.loads(r.value)["event_id"]: json.loads(r.value) for r in records}
    assert set(by_id) == {str(m.event_id) for m in msgs}
    en, zh, tw, late = (by_id[str(m.event_id)] for m in msgs)
    assert (en["language"], en["urgency"]) == ("en", "critical")
    assert (zh["language"], zh["urgency"]) == ("zh", "critical")
    assert (tw["language"], tw["sentiment"], tw["urgency"]) == ("zh", "positive", "low")
    assert late["category"] == "delivery" and late["sentiment"] == "negative"
    for ev in en["evidence"]:
        if ev["start"] is not None:
            assert msgs[0].text[ev["start"]:ev["end"]] == ev["term"]
    # the two critical messages became incidents, escalated by the same worker
    wait_until(lambda: len(query(db_url, "SELECT incident_key FROM incidents WHERE severity = 'critical'")) == 2,
               timeout=30, message="two critical incidents")
    rows = query(db_url, "SELECT event_id, category FROM classified_feedback")
    assert len(rows) == 4

    # a reviewer corrects the late-delivery message; the running worker applies it to the same text
    out = subprocess.run([sys.executable, "-m", "agents.cli.main", "feedback", "correct", str(msgs[3].event_id),
                          "--category", "service", "--by", "qa", "--db", db_url],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    again = make_feedback(customer_id="c-en3", text=msgs[3].text)
    import time

    time.sleep(6)  # the worker looks for new corrections every 5 s
    with Emitter(broker.bootstrap, topic_prefix=prefix) as em:
        em.emit(again)
    wait_until(lambda: query(db_url, "SELECT category FROM classified_feedback WHERE event_id = :e",
                             e=str(again.event_id)) == [("service",)], timeout=30, message="correction applied")
