"""`salespulse classify`: JSON lines in, one classification per line out, bad lines named on stderr."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

from agents.cli.main import cli

KEYS = {"language", "category", "sentiment", "sentiment_score", "urgency", "confidence", "evidence", "needs_review"}


def invoke(*args: str, stdin: str = ""):
    return CliRunner().invoke(cli, ["classify", *args], input=stdin)


def test_stdin_to_stdout():
    lines = [{"text": "The charger caught fire!"}, {"text": "質量很好，非常滿意", "rating": 5, "language": "zh-Hant"},
             {"text": "When will it ship?", "channel": "email"}]
    result = invoke(stdin="\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n")
    assert result.exit_code == 0, result.output
    out = [json.loads(x) for x in result.stdout.splitlines()]
    assert len(out) == 3 and all(KEYS <= set(o) for o in out)
    assert out[0]["urgency"] == "critical" and out[1]["language"] == "zh" and out[1]["sentiment"] == "positive"


def test_file_argument_and_bad_lines(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"text": "Great service!"}\nnot json\n[1, 2]\n\n{"text": ""}\n{"text": "ok", "rating": 9}\n'
                    '{"text": "Broken on arrival"}\n', encoding="utf-8")
    result = invoke(str(path))
    assert result.exit_code == 1
    assert len(result.stdout.splitlines()) == 2  # the good lines still come out
    err = result.stderr
    for n in (2, 3, 5, 6):
        assert f"line {n}:" in err
    assert "line 1:" not in err and "line 7:" not in err and "Traceback" not in err


def test_missing_file_is_a_usage_error(tmp_path):
    result = invoke(str(tmp_path / "nope.jsonl"))
    assert result.exit_code == 2


def test_real_process_with_pipe():
    proc = subprocess.run([sys.executable, "-m", "agents.cli.main", "classify"], capture_output=True, text=True,
                          input='{"text": "我要找律师起诉你们"}\n{"text": 3}\n', timeout=60)
    assert proc.returncode == 1
    assert json.loads(proc.stdout.splitlines()[0])["urgency"] == "critical"
    assert proc.stderr.splitlines()[0].startswith("line 2:")


# ------------------------------------------------------------------ the incident the worker would raise

CRITICAL = "the charger caught fire and burned my hand"
HIGH = "Cancel my order and refund me immediately, this is unacceptable."
NORMAL = "Fast delivery, thanks!"


def _lines(*objs: dict, env: dict | None = None, args: tuple[str, ...] = ()) -> list[dict]:
    result = CliRunner().invoke(cli, ["classify", *args], input="".join(json.dumps(o) + "\n" for o in objs),
                                env=env)
    assert result.exit_code == 0, result.output
    return [json.loads(x) for x in result.stdout.splitlines()]


def test_incident_field_critical_high_and_normal():
    from agents.feedback.incidents import incident_key

    crit, high, normal = _lines({"text": CRITICAL, "customer_id": "c-9"}, {"text": HIGH}, {"text": NORMAL},
                                env={"SALESPULSE_WORKER__RAISE_HIGH_FEEDBACK": None})
    assert crit["urgency"] == "critical"
    assert crit["incident"]["severity"] == "critical"
    assert crit["incident"]["category"] == crit["category"] == "product_safety"
    assert crit["incident"]["incident_key"] == incident_key("c-9", "product_safety")
    assert crit["incident"]["title"] == CRITICAL
    assert high["urgency"] == "high"
    assert high["incident"]["severity"] == "high"  # the worker's default raises high-urgency feedback too
    assert high["incident"]["incident_key"] == incident_key("cli", high["category"])  # no customer_id: "cli"
    assert normal["incident"] is None
    assert set(crit["incident"]) == {"category", "severity", "incident_key", "title"}


def test_high_follows_the_worker_setting_or_the_option():
    lines = ({"text": CRITICAL}, {"text": HIGH})
    off = {"SALESPULSE_WORKER__RAISE_HIGH_FEEDBACK": "false"}
    crit, high = _lines(*lines, env=off)
    assert crit["incident"]["severity"] == "critical" and high["incident"] is None
    crit, high = _lines(*lines, env=off, args=("--raise-high",))
    assert high["incident"]["severity"] == "high"
    crit, high = _lines(*lines, args=("--no-raise-high",))
    assert crit["incident"]["severity"] == "critical" and high["incident"] is None


def test_same_customer_and_category_share_the_key():
    again = "Smoke and a burning smell from the same charger again!"
    a, b, c = _lines({"text": CRITICAL, "customer_id": "c-1"}, {"text": again, "customer_id": "c-1"},
                     {"text": CRITICAL, "customer_id": "c-2"})
    assert a["incident"]["incident_key"] == b["incident"]["incident_key"] != c["incident"]["incident_key"]


def test_a_line_the_worker_would_refuse_is_classified_without_an_incident():
    result = CliRunner().invoke(cli, ["classify"], input=json.dumps({"text": CRITICAL, "channel": "pigeon"}) + "\n")
    assert result.exit_code == 0
    out = json.loads(result.stdout)
    assert out["urgency"] == "critical" and out["incident"] is None
    assert "line 1:" in result.stderr and "channel" in result.stderr and "Traceback" not in result.stderr


def test_bad_customer_id_is_a_bad_line():
    result = invoke(stdin='{"text": "ok", "customer_id": 7}\n{"text": "ok", "customer_id": " "}\n')
    assert result.exit_code == 1 and result.stdout == ""
    assert "line 1:" in result.stderr and "line 2:" in result.stderr


def test_parity_with_the_workers_feedback_path():
    """The same messages through what the worker runs (classify_batch: the classifier's process, and
    inline one by one) and through `salespulse classify`: the same incident, or none, for each."""
    from agents.feedback.classifier import Classifier
    from agents.feedback.core import FeedbackCore
    from agents.feedback.pool import classify_batch
    from schemas.events import Channel
    from tests.support.factories import T0, make_feedback

    texts = [CRITICAL, HIGH, NORMAL, "充电器冒烟了，还有烧焦的味道，太危险了！",
             "Delivery was two weeks late and nobody answered.", "The parcel is a bit late."]
    events = [make_feedback(customer_id=f"c-{i % 3}", text=t, channel=Channel.chat) for i, t in enumerate(texts)]
    for raise_high in (True, False):
        worker = classify_batch(FeedbackCore(Classifier.from_config(), raise_high=raise_high), [],
                                [(e, T0) for e in events])
        flag = "--raise-high" if raise_high else "--no-raise-high"
        cli_out = _lines(*({"text": e.text, "customer_id": e.customer_id, "channel": "chat"} for e in events),
                         args=(flag,))
        seen = set()
        for w, c in zip(worker, cli_out, strict=True):
            assert c["urgency"] == w.cf.urgency and c["category"] == w.cf.category
            if w.incident is None:
                assert c["incident"] is None
            else:
                seen.add(w.incident.severity.value)
                assert c["incident"] == {"category": w.incident.category, "severity": w.incident.severity.value,
                                         "incident_key": w.incident.incident_key, "title": w.incident.title}
        assert seen == ({"critical", "high"} if raise_high else {"critical"})


def test_output_shows_aspects_and_competitors():
    line = {"text": "Delivery was late but the kettle is great, and it's cheaper at ShopFast"}
    result = invoke(stdin=json.dumps(line) + "\n")
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert [(a["category"], a["sentiment"]) for a in record["aspects"]][:2] == [("delivery", "negative"),
                                                                                ("product_quality", "positive")]
    assert [(m["competitor"], m["compared"], m["term"]) for m in record["competitors"]] == [
        ("shopfast", "price", "ShopFast")]
