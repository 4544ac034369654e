"""Dashboards and alert rules against the metric catalogue (pipeline/metrics.py): every PromQL
expression names only exported metrics and labels; promtool checks and unit-tests the rules."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry
from prometheus_client.metrics import MetricWrapperBase

from pipeline.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
PROM_DIR = ROOT / "config" / "prometheus"
ALERTS = PROM_DIR / "alerts.yml"
ALERTS_TEST = PROM_DIR / "alerts_test.yml"
DASHBOARDS = ROOT / "config" / "grafana" / "dashboards"
DATASOURCES = ROOT / "config" / "grafana" / "provisioning" / "datasources"

# Series Prometheus itself attaches to every target; not ours to export.
PROMETHEUS_SERIES = {"up": set()}
# Labels Prometheus adds to every scraped series (job, instance) and the bucket bound.
TARGET_LABELS = {"job", "instance"}
SEVERITIES = {"page", "ticket"}

# --- the catalogue ------------------------------------------------------------------------------

_SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("", "_sum", "_count"),
    "info": ("_info",),
}


def exported_series() -> dict[str, set[str]]:
    """Every series name the code exports -> its label names (histogram buckets also `le`).

    Family names and types come from collecting a private registry; labelled children do not
    exist before their first .labels() call, so the label names come from the metric objects."""
    metrics = Metrics(CollectorRegistry())
    labels_of = {}
    for obj in vars(metrics).values():
        if isinstance(obj, MetricWrapperBase):
            labels_of[obj._name] = set(obj._labelnames)  # noqa: SLF001 (no public accessor)
    series: dict[str, set[str]] = {}
    for family in metrics.registry.collect():
        base = family.name
        own = labels_of.get(base) or labels_of.get(base + "_total") or set()
        for suffix in _SUFFIXES[family.type]:
            series[base + suffix] = own | ({"le"} if suffix == "_bucket" else set())
    return series


CATALOGUE = exported_series()
KNOWN = {**CATALOGUE, **PROMETHEUS_SERIES}

# --- PromQL: the names it uses --------------------------------------------------------------------

_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
             "offset", "inf", "nan", "atan2"}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_BRACES = re.compile(r"\{[^{}]*\}")
_BRACKETS = re.compile(r"\[[^\[\]]*\]")
_LABEL_LIST = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)")
_IDENT = re.compile(r"(?<![\w.$])[a-zA-Z_:][a-zA-Z0-9_:]*")
_SELECTOR = re.compile(r"(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^{}]*)\}")
_MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
_LABEL_VALUES = re.compile(r"^\s*label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$", re.S)


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers that are not functions (followed by
    `(`), keywords, label names (inside {...} or a by/on/... list), durations or variables."""
    s = _STRING.sub('""', expr)
    s = _LABEL_LIST.sub(" ", s)
    s = _BRACES.sub(" ", s)
    s = _BRACKETS.sub(" ", s)
    names = set()
    for m in _IDENT.finditer(s):
        word = m.group(0)
        rest = s[m.end():].lstrip()
        if rest.startswith("(") or word.lower() in _KEYWORDS:
            continue
        names.add(word)
    return names


def grouping_labels(expr: str) -> set[str]:
    """Label names in by/without/on/ignoring/group_left/group_right lists."""
    s = _STRING.sub('""', expr)
    return {lab.strip() for _, body in _LABEL_LIST.findall(s) for lab in body.split(",") if lab.strip()}


def selector_labels(expr: str) -> list[tuple[str, set[str]]]:
    """(metric, label names it is matched on) for every `metric{...}` selector."""
    s = _STRING.sub('""', expr)
    return [(name, set(_MATCHER.findall(body))) for name, body in _SELECTOR.findall(s)]


def problems(expr: str, known: dict[str, set[str]] = KNOWN) -> list[str]:
    """What is wrong with `expr` against the catalogue; [] when it names only real metrics and labels."""
    out = []
    names = metric_names(expr)
    if not names:
        out.append("names no metric (the extractor found nothing to check)")
    unknown = sorted(n for n in names if n not in known)
    out += [f"unknown metric {n}" for n in unknown]
    for name, labs in selector_labels(expr):
        if name in known and name not in PROMETHEUS_SERIES and not name.endswith("_info"):
            bad = labs - known[name] - TARGET_LABELS
            out += [f"{name} has no label {lab}" for lab in sorted(bad)]
    available = set().union(*(known.get(n, set()) for n in names)) | TARGET_LABELS
    if not any(n.endswith("_info") for n in names):
        out += [f"grouping by label {lab} that none of {sorted(names)} has"
                for lab in sorted(grouping_labels(expr) - available)]
    return out


def promql_of_query(query: str) -> str:
    """A Grafana query: PromQL, or label_values(selector, label) whose selector is PromQL."""
    m = _LABEL_VALUES.match(query)
    return m.group(1) if m else query


# --- the artefacts ----------------------------------------------------------------------------

def dashboards() -> list[tuple[str, dict]]:
    return [(p.name, json.loads(p.read_text())) for p in sorted(DASHBOARDS.glob("*.json"))]


def panels(board: dict):
    for p in board.get("panels", []):
        yield p
        yield from p.get("panels", [])  # collapsed rows keep their panels inside


def dashboard_exprs() -> list[tuple[str, str]]:
    out = []
    for fname, board in dashboards():
        for p in panels(board):
            for t in p.get("targets", []):
                out.append((f"{fname} / {p['title']} / {t.get('refId')}", t["expr"]))
        for var in board.get("templating", {}).get("list", []):
            if var.get("type") == "query":
                q = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
                out.append((f"{fname} / variable {var['name']}", promql_of_query(q)))
    return out


def alert_rules() -> list[dict]:
    return [r for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]]


ALL_EXPRS = dashboard_exprs() + [(f"alerts.yml / {r.get('alert') or r.get('record')}", r["expr"])
                                 for r in alert_rules()]


# --- the extractor itself -----------------------------------------------------------------------

@pytest.mark.parametrize("expr, names", [
    ('sum by (topic) (rate(salespulse_events_processed_total{job="x", instance=~"$instance"}[$__rate_interval]))',
     {"salespulse_events_processed_total"}),
    ("histogram_quantile(0.99, sum by (le, topic) (rate(salespulse_event_latency_seconds_bucket[5m]))) > 30",
     {"salespulse_event_latency_seconds_bucket"}),
    ('salespulse_db_up == 0 and on (job, instance) sum by (job, instance) (salespulse_db_write_errors_total) > 0',
     {"salespulse_db_up", "salespulse_db_write_errors_total"}),
    ("x_total unless x_total offset 15m", {"x_total"}),
    ('absent(up{job="salespulse"} == 1)', {"up"}),
    ('sum(a{reason="processing_error"}) / ignoring(reason) group_left(topic) b', {"a", "b"}),
    ("rate(foo:bar_total[1h:5m]) * 60 + 1e3", {"foo:bar_total"}),
])
def test_metric_names_skip_functions_keywords_labels_and_durations(expr, names):
    assert metric_names(expr) == names


def test_the_check_fails_on_a_misspelt_metric_a_wrong_label_and_a_wrong_grouping():
    assert problems("rate(salespulse_events_procesed_total[5m])") == [
        "unknown metric salespulse_events_procesed_total"]
    assert problems('salespulse_orders_total{currency="EUR"}') == ["salespulse_orders_total has no label currency"]
    assert problems("sum by (channel) (salespulse_feedback_classified_total)") == [
        "grouping by label channel that none of ['salespulse_feedback_classified_total'] has"]
    # a counter without its _total suffix and a histogram without _bucket are not series
    assert problems("rate(salespulse_orders[5m])") == ["unknown metric salespulse_orders"]
    assert "unknown metric salespulse_event_latency_seconds" in problems(
        "histogram_quantile(0.9, rate(salespulse_event_latency_seconds[5m]))")
    assert problems("vector(1)") == ["names no metric (the extractor found nothing to check)"]


def test_the_catalogue_has_the_suffixed_series_names():
    assert "salespulse_events_processed_total" in CATALOGUE
    assert {"salespulse_event_latency_seconds_bucket", "salespulse_event_latency_seconds_sum",
            "salespulse_event_latency_seconds_count"} <= set(CATALOGUE)
    assert "salespulse_db_up" in CATALOGUE and "salespulse_build_info" in CATALOGUE
    assert "salespulse_events_processed" not in CATALOGUE
    assert CATALOGUE["salespulse_event_latency_seconds_bucket"] == {"topic", "le"}
    assert CATALOGUE["salespulse_events_invalid_total"] == {"topic", "reason"}


# --- dashboards and rules against the catalogue -----------------------------------------------

def test_there_are_dashboards_and_rules_to_check():
    names = {f for f, _ in dashboards()}
    assert len(names) >= 3, names
    assert len(ALL_EXPRS) > 50


@pytest.mark.parametrize("where, expr", ALL_EXPRS, ids=[w for w, _ in ALL_EXPRS])
def test_every_query_names_only_exported_metrics_and_labels(where, expr):
    assert problems(expr) == [], f"{where}: {expr}"


def test_the_dashboards_cover_the_catalogue():
    used = set().union(*(metric_names(e) for _, e in dashboard_exprs()))
    # every family appears on some dashboard (any of its series)
    families = {re.sub(r"(_total|_bucket|_sum|_count|_info)$", "", n) for n in CATALOGUE}
    shown = {re.sub(r"(_total|_bucket|_sum|_count|_info)$", "", n) for n in used}
    assert families - shown == set()


def test_dashboards_use_the_provisioned_datasource():
    uids = {d["uid"] for f in DATASOURCES.glob("*.y*ml") for d in yaml.safe_load(f.read_text())["datasources"]
            if d["type"] == "prometheus"}
    assert len(uids) == 1, "the Prometheus data source needs a fixed uid the dashboards can name"
    board_uids = set()
    for fname, board in dashboards():
        assert board["uid"] not in board_uids, f"{fname}: duplicate dashboard uid"
        board_uids.add(board["uid"])
        ids = [p["id"] for p in panels(board)]
        assert len(ids) == len(set(ids)), f"{fname}: duplicate panel ids"
        for p in panels(board):
            if p["type"] == "row":
                continue
            assert p["datasource"]["uid"] in uids, f"{fname} / {p['title']}"
            assert p["targets"], f"{fname} / {p['title']}: no query"
            for t in p["targets"]:
                assert t.get("datasource", p["datasource"])["uid"] in uids


def test_every_alert_has_a_comment_a_severity_and_a_summary():
    rules = alert_rules()
    assert {"SalesPulseWorkerDown", "ConsumerLagHigh", "DeadLetterRateHigh", "EscalationDeadlineMissed",
            "NotificationFailures", "DatabaseDown"} <= {r["alert"] for r in rules}
    for r in rules:
        assert r["labels"]["severity"] in SEVERITIES, r["alert"]
        assert r["annotations"]["summary"] and r["annotations"]["description"], r["alert"]
    lines = ALERTS.read_text().splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith("- alert:"):
            assert lines[i - 1].strip().startswith("#"), f"alerts.yml:{i + 1}: {line.strip()} has no comment above it"


def test_every_alert_is_unit_tested():
    tested = {t["alertname"] for case in yaml.safe_load(ALERTS_TEST.read_text())["tests"]
              for t in case.get("alert_rule_test", [])}
    assert {r["alert"] for r in alert_rules()} - tested == set()


# --- promtool ---------------------------------------------------------------------------------

def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool is not on PATH; .ci/run must install Debian's prometheus package")
        pytest.skip("promtool is not on PATH (apt-get install prometheus); CI=true makes this a failure")
    return path


def run_promtool(*args: str) -> str:
    done = subprocess.run([promtool(), *args], cwd=PROM_DIR, capture_output=True, text=True, timeout=120)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "SUCCESS" in out, out
    return out


def test_promtool_checks_the_rules():
    out = run_promtool("check", "rules", ALERTS.name)
    assert f"{len(alert_rules())} rules found" in out


def test_promtool_unit_tests_show_the_rules_fire():
    run_promtool("test", "rules", ALERTS_TEST.name)


def test_promtool_unit_tests_can_fail(tmp_path):
    """The same tests against rules that never fire must fail: the tests assert something."""
    broken = yaml.safe_load(ALERTS.read_text())
    for g in broken["groups"]:
        for r in g["rules"]:
            r["expr"] = f"{r['expr']} and on () vector(0) > 1"
    (tmp_path / "alerts.yml").write_text(yaml.safe_dump(broken))
    shutil.copy(ALERTS_TEST, tmp_path / "alerts_test.yml")
    done = subprocess.run([promtool(), "test", "rules", "alerts_test.yml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    for name in ("SalesPulseWorkerDown", "ConsumerLagHigh", "DeadLetterRateHigh", "EscalationDeadlineMissed",
                 "NotificationFailures", "DatabaseDown"):
        assert f"alertname: {name}" in done.stdout + done.stderr, name


async def test_the_event_loop_lag_shows_a_blocked_loop():
    """`salespulse_event_loop_lag_seconds`: a loop blocked for 0.3 s by a synchronous step shows
    as one late tick of about that much; ticks of an idle loop are on time."""
    import asyncio
    import time

    from pipeline.metrics import watch_loop_lag

    m = Metrics(CollectorRegistry())
    watcher = asyncio.create_task(watch_loop_lag(m.loop_lag, tick_s=0.05))
    try:
        await asyncio.sleep(0.3)
        idle_sum = m.loop_lag._sum.get()
        assert idle_sum < 0.1
        time.sleep(0.3)  # a long synchronous step on the loop
        await asyncio.sleep(0.12)
        late = m.loop_lag._sum.get() - idle_sum
        assert 0.2 <= late < 1.0, late
    finally:
        watcher.cancel()
