"""config/cases.yaml: the shipped file loads on the policy's calendars; each mistake is one precise line."""

from __future__ import annotations

import pytest
import yaml

from agents.cases.config import DEFAULT_PATH, load_cases_config
from agents.escalation.policy import load_policy
from pipeline.errors import ConfigError

CALENDARS = load_policy().config.calendars


def test_the_shipped_config_loads_on_the_office_calendar():
    cfg, calendar = load_cases_config(DEFAULT_PATH, CALENDARS)
    assert calendar is CALENDARS["office"]
    assert cfg.sla("delivery", "Champions").first_response_hours == 2
    assert cfg.sla("delivery", "Loyal").first_response_hours == 4
    assert cfg.sla("service", None).first_response_hours == 8
    assert cfg.sla("service", "Champions").first_response_hours == 4
    assert cfg.department("pricing") == "finance" and cfg.department("suggestion") == "after_sales"
    assert "suggestion" not in cfg.opens.categories


def _edit(path, value):
    def apply(data):
        node = data
        for p in path[:-1]:
            node = node[p]
        node[path[-1]] = value
    return apply


@pytest.mark.parametrize("edit,message", [
    (_edit(("calendar",), "ofice"), 'calendar: unknown calendar "ofice" (the escalation policy has: office'),
    (_edit(("categories", "delivery", "resolution_hours"), 2),
     "categories.delivery: resolution_hours (2) is shorter than first_response_hours (4)"),
    (_edit(("categories", "delivery", "first_response_hours"), 0),
     "categories.delivery.first_response_hours: Input should be greater than 0"),
    (_edit(("categories", "deliveries"), {"first_response_hours": 1, "resolution_hours": 2}),
     "categories.deliveries.[key]: Input should be 'product_quality'"),
    (_edit(("departments", "pricing"), "accounting"), "departments.pricing: Input should be 'after_sales'"),
    (_edit(("default", "segments", "Champion"), {"first_response_hours": 1, "resolution_hours": 2}),
     "default.segments.Champion.[key]: Input should be 'Champions'"),
    (_edit(("opens", "urgencies"), ["urgent"]), "opens.urgencies.1: Input should be 'critical'"),
    (_edit(("breach_severity",), "severe"), "breach_severity: Input should be 'critical'"),
    (_edit(("sweep_interval_s",), 0), "sweep_interval_s: Input should be greater than 0"),
    (_edit(("version",), 2), "version: Input should be 1"),
])
def test_mistakes_name_file_line_and_field(tmp_path, edit, message):
    data = yaml.safe_load(DEFAULT_PATH.read_text())
    edit(data)
    path = tmp_path / "cases.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(ConfigError) as err:
        load_cases_config(path, CALENDARS)
    text = str(err.value)
    assert message in text and "\n" not in text and text.startswith(f"{path}:"), text


def test_no_calendar_means_around_the_clock(tmp_path):
    data = yaml.safe_load(DEFAULT_PATH.read_text())
    data["calendar"] = None
    path = tmp_path / "cases.yaml"
    path.write_text(yaml.safe_dump(data))
    assert load_cases_config(path, CALENDARS)[1] is None
