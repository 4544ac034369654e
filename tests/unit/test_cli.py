"""The CLI as a user meets it: help everywhere, one-line errors, meaningful exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest

from agents.cli.main import cli


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agents.cli.main", *args], input=stdin,
                          capture_output=True, text=True, timeout=60)


def _all_commands(group: click.Group, prefix=()):
    for name, cmd in group.commands.items():
        yield prefix + (name,)
        if isinstance(cmd, click.Group):
            yield from _all_commands(cmd, prefix + (name,))


@pytest.mark.parametrize("path", sorted(_all_commands(cli)), ids=lambda p: " ".join(p))
def test_every_command_has_help(path):
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_simulate_is_deterministic_with_a_seed():
    a = run("simulate", "--stdout", "--count", "50", "--seed", "3").stdout.splitlines()
    b = run("simulate", "--stdout", "--count", "50", "--seed", "3").stdout.splitlines()
    strip = lambda lines: [{k: v for k, v in json.loads(x).items() if k not in ("occurred_at", "period_start", "period_end")} for x in lines]
    assert len(a) == 50 and strip(a) == strip(b)
    types = {json.loads(x)["event_type"] for x in a}
    assert {"order", "feedback"} <= types


def test_user_mistakes_are_one_line_not_a_traceback(tmp_path):
    r = run("emit", str(tmp_path / "missing.jsonl"))
    assert r.returncode != 0 and "Traceback" not in r.stderr and "missing.jsonl" in r.stderr
    r = run("simulate", "--rate", "-1", "--count", "1")
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and "must not be negative" in r.stderr
    r = run("emit", "-", "--broker", "127.0.0.1:1", stdin='{"event_type": "order"}\n')
    assert r.returncode != 0 and "Traceback" not in r.stderr and "127.0.0.1:1" in r.stderr
