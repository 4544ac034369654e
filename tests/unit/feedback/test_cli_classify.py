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
