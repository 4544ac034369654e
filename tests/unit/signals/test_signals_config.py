"""config/signals.yaml: the shipped file loads; each mistake refuses with `file:line: field: message`."""

from __future__ import annotations

import pytest

from agents.signals.config import DEFAULT_PATH, load_signals
from pipeline.errors import ConfigError


def test_the_shipped_file_loads_with_every_key_commented():
    cfg = load_signals()
    assert cfg.bucket_minutes == 60 and cfg.complaints.max_p_value == 1e-7
    lines = DEFAULT_PATH.read_text().splitlines()
    for n, line in enumerate(lines):
        key = line.strip().split(":")[0]
        if line.strip() and not line.lstrip().startswith("#") and ":" in line and not line.rstrip().endswith(":"):
            # a key with a value: documented on a comment line above it, or above its section
            above = [x for x in lines[max(0, n - 12):n] if x.lstrip().startswith("#")]
            assert above, f"line {n + 1} ({key}) has no comment above it"


@pytest.mark.parametrize("text,message", [
    ("version: 1\ncomplaints:\n  min_ratio: 0.5\n", "signals.yaml:3: complaints.min_ratio: Input should be greater than 1"),
    ("version: 1\nbucket_minutes: 7\n", "signals.yaml:2: bucket_minutes: 7 does not divide a day"),
    ("version: 1\nnegative_share:\n  window_buckets: 5\n  baseline_buckets: 3\n",
     "signals.yaml:4: negative_share.baseline_buckets: the baseline (3 buckets) must be at least as long as the window (5)"),
    ("version: 1\ncomplaints:\n  subjects: [sku, colour]\n", "signals.yaml:3: complaints.subjects.2: Input should be 'sku', 'category' or 'region'"),
    ("version: 1\ntarget_pace:\n  after_day: 31\n", "signals.yaml:3: target_pace.after_day: Input should be less than or equal to 28"),
    ("version: 1\ncompany_channel: fax\n", "signals.yaml:2: company_channel: Input should be"),
    ("version: 1\ncampaign_roi:\n  min_spnd: 5\n", "signals.yaml:3: campaign_roi.min_spnd: Extra inputs are not permitted"),
    ("version: 2\n", "signals.yaml:1: version: Input should be 1"),
])
def test_mistakes_name_file_line_and_field(tmp_path, text, message):
    p = tmp_path / "signals.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_signals(p)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_the_settings_name_the_file(monkeypatch, tmp_path):
    from pipeline.settings import Settings

    monkeypatch.setenv("SALESPULSE_PATHS__SIGNALS", str(tmp_path / "mine.yaml"))
    assert Settings().paths.resolve("signals", "signals.yaml") == tmp_path / "mine.yaml"
    monkeypatch.delenv("SALESPULSE_PATHS__SIGNALS")
    assert Settings().paths.resolve("signals", "signals.yaml").name == "signals.yaml"
