"""The same incidents and commands through `escalation simulate` and through a real worker on a broker:
the notifications match one by one (incident, level, loop, kind, recipients), storms included."""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from agents.escalation.policy import load_policy
from agents.escalation.simulate import simulate
from agents.escalation.storm import parent_key
from pipeline import topics as T
from pipeline.emitter import Emitter
from schemas.escalation import IncidentCommand
from schemas.events import Channel, IncidentEvent, Severity
from tests.support.services import ROOT, metric_value, wait_until

pytestmark = pytest.mark.integration

# seconds, so that deadlines pass within the test; the storm's children (medium: timeout factor 2) wait
# 12 s at level 1, long enough for the storm to form before any of them escalates
TIMEOUTS_MIN = {"account_rep": 0.1, "team_lead": 0.05, "sales_manager": 0.05, "director": 0.05}


def short_policy(tmp: Path) -> Path:
    """The shipped policy with timeouts in seconds and no calendars (the test runs on any day, at any hour)."""
    policy = yaml.safe_load((ROOT / "config" / "escalation.yaml").read_text())
    for level in policy["levels"]:
        level["ack_timeout_minutes"] = TIMEOUTS_MIN[level["name"]]
        level.pop("calendar", None)
    assert policy["storm"]["threshold"] == 5 and policy["storm"]["group_by"] == ["sku", "region"]
    path = tmp / "policy.yaml"
    path.write_text(yaml.safe_dump(policy))
    return path


def now() -> datetime:
    return datetime.now(timezone.utc)


def incident(key: str, severity: Severity, region: str, sku: str | None = None) -> IncidentEvent:
    return IncidentEvent(occurred_at=now(), channel=Channel.web, customer_id=f"cust-{key}", incident_key=key,
                         severity=severity, category="product_safety" if sku else "delivery",
                         title=f"incident {key}", region=region, sku=sku)


class Alerts:
    """The `escalations` topic, read from the beginning as the worker writes it."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        from kafka import KafkaConsumer, TopicPartition

        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                      auto_offset_reset="earliest")
        parts = wait_until(lambda: self.consumer.partitions_for_topic(topic), timeout=30,
                           message=f"topic {topic}")
        self.consumer.assign([TopicPartition(topic, p) for p in parts])
        self.consumer.seek_to_beginning()
        self.seen: list[dict] = []

    def poll(self) -> list[dict]:
        for batch in self.consumer.poll(timeout_ms=200).values():
            self.seen.extend(json.loads(r.value) for r in batch)
        return self.seen

    def close(self) -> None:
        self.consumer.close()


def unstamped(key: str) -> str:
    """A storm's parent is named after the second it opened, which the worker's clock and the event's
    occurred_at may put on either side of a second boundary: compare parents by their group."""
    return key.rsplit(":", 1)[0] if key.startswith("storm:") else key


def by_incident(alerts: list[tuple]) -> dict[str, list[tuple]]:
    """(at, key, level, loop, kind, recipients) -> per incident, in time order: [(level, loop, kind, recipients)]."""
    out: dict[str, list[tuple]] = defaultdict(list)
    for at, key, level, loop, kind, who in sorted(alerts, key=lambda a: (a[0], a[4], a[2])):
        out[unstamped(key)].append((level, loop, kind, who))
    return dict(out)


def test_simulate_and_the_worker_send_the_same_notifications(broker, make_worker, run_id, tmp_path, request):
    policy_path = short_policy(tmp_path)
    worker = make_worker("w1", SALESPULSE_PATHS__ESCALATION_POLICY=policy_path,
                         SALESPULSE_NOTIFY__SWEEP_INTERVAL_S=0.2)
    worker.wait_ready()
    wait_until(lambda: metric_value(worker.metrics(), "salespulse_partitions_assigned") > 0, timeout=60,
               message="partitions assigned")
    prefix = f"t{run_id}."
    sku = f"SKU-PARITY-{run_id}"
    alerts = Alerts(broker.bootstrap, T.topic_name(T.ESCALATIONS, prefix))
    request.addfinalizer(alerts.close)
    lines: list[str] = []

    with Emitter(broker.bootstrap, topic_prefix=prefix) as em:
        def emit(ev: IncidentEvent) -> None:
            em.emit(ev)
            em.flush()
            lines.append(ev.model_dump_json())

        def command(kind: str, key: str, by: str) -> None:
            cmd = IncidentCommand(occurred_at=now(), type=kind, incident_key=key, by=by)
            em._producer.send(T.topic_name(T.INCIDENT_COMMANDS, prefix), key=key.encode(),
                              value=cmd.model_dump_json().encode())
            em.flush()
            lines.append(json.dumps({"type": kind, "incident_key": key, "by": by,
                                     "occurred_at": cmd.occurred_at.isoformat()}))

        # a storm: five new incidents on one sku, all in one region, so each belongs to two groups and
        # the fifth opens a storm on both; one at a time, so both drivers see them in the same order
        storm = [incident(f"storm-{run_id}-{i}", Severity.medium, "north", sku) for i in range(5)]
        for ev in storm[:4]:
            emit(ev)
            wait_until(lambda: any(a["incident_key"] == ev.incident_key for a in alerts.poll()), timeout=30,
                       message=f"first page of {ev.incident_key}")
        emit(storm[4])

        def storm_parents() -> dict[str, str] | None:
            found = {a["incident_key"].split(":")[1]: a["incident_key"] for a in alerts.poll() if a["kind"] == "storm"}
            return found if len(found) >= 2 else None

        parents = wait_until(storm_parents, timeout=30, message="a storm on the sku and one on the region")
        assert set(parents) == {f"sku={sku}", "region=north"}
        formed = (storm[4].occurred_at - storm[0].occurred_at).total_seconds()
        assert formed < 8, f"the storm took {formed:.1f} s to form, too close to the first page's 12 s deadline"
        t_storm = storm[4].occurred_at.timestamp()
        # alongside it, plain incidents in another region
        critical, high = incident(f"crit-{run_id}", Severity.critical, "south"), \
            incident(f"high-{run_id}", Severity.high, "south")
        emit(critical)
        emit(high)
        t_plain = high.occurred_at.timestamp()

        # each command half-way between two deadlines of its incident, so the worker's processing delay
        # cannot move it to the other side of one: the storm parents (medium) escalate every 6 s,
        # the critical every 3 s from team lead, the high after 6 s at level 1, then every 3 s
        plan = sorted([
            (t_storm + 3.0, "ack", parents["region=north"], "manager-north"),     # during its first level
            (t_plain + 4.5, "ack", critical.incident_key, "manager-south"),        # after one escalation
            (t_plain + 10.5, "resolve", high.incident_key, "manager-south"),       # after two
            (t_storm + 15.0, "resolve", parents[f"sku={sku}"], "manager-north"),   # in its second loop
        ])
        for at, kind, key, by in plan:
            time.sleep(max(0.0, at - time.time()))
            command(kind, key, by)

    # the same input offline; the storm parent is named after the fifth incident's occurred_at there
    sku_parent = parents[f"sku={sku}"]
    offline_parent = parent_key(f"sku={sku}", storm[4].occurred_at)
    region_parent = parents["region=north"]
    offline_region = parent_key("region=north", storm[4].occurred_at)
    lines = [ln.replace(sku_parent, offline_parent).replace(region_parent, offline_region) for ln in lines]
    result = simulate(lines, load_policy(policy_path))
    assert result.notes == []
    expected = [(a.at, a.incident_key, a.level, a.loop, a.kind, tuple(t.id for t in a.targets))
                for a in result.alerts]
    kinds = Counter(a[4] for a in expected)
    assert kinds["storm"] == 2 and kinds["inform"] == 1  # both groups opened a storm; the critical informed
    assert {a[3] for a in expected} == {0, 1}            # the sku storm's parent reached the chain's second loop

    def worker_alerts() -> list[tuple]:
        return [(datetime.fromisoformat(a["at"]), a["incident_key"], a["level"], a["loop"], a["kind"],
                 tuple(t["id"] for t in a["targets"])) for a in alerts.poll()]

    wait_until(lambda: len(worker_alerts()) >= len(expected), timeout=30, interval=0.5,
               message=f"{len(expected)} notifications on the escalations topic")
    time.sleep(3.0)  # anything extra would arrive now: every incident is acknowledged or resolved
    got = worker_alerts()
    want, have = by_incident(expected), by_incident(got)
    assert sorted(have) == sorted(want)
    for key in want:
        assert have[key] == want[key], key
    assert len(got) == len(expected)
