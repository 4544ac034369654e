"""One loader for config/: every mistake is one line `file:line: field: message`."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pipeline.configfile import ConfigProblem, Document, describe_errors, field_path, load_yaml, read
from pipeline.errors import ConfigError


class _M(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Step(_M):
    name: str
    minutes: float = Field(gt=0)


class Plan(_M):
    title: str
    steps: tuple[Step, ...] = ()
    owners: dict[str, str] = {}

    @model_validator(mode="after")
    def _unique(self) -> "Plan":
        seen = set()
        for i, s in enumerate(self.steps):
            if s.name in seen:
                raise ConfigProblem(("steps", i, "name"), f"step {i + 1} repeats the name {s.name!r}")
            seen.add(s.name)
        return self


GOOD = """\
# a plan
title: rollout
steps:
  - name: build
    minutes: 5
  - name: ship
    minutes: 10
owners:
  build: ana
"""


def _write(tmp_path, text, name="plan.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _error(tmp_path, text, name="plan.yaml") -> tuple[str, str]:
    path = _write(tmp_path, text, name)
    with pytest.raises(ConfigError) as err:
        load_yaml(path, Plan)
    assert "\n" not in str(err.value)
    return str(path), str(err.value)


def test_a_good_file_gives_the_model(tmp_path):
    plan = load_yaml(_write(tmp_path, GOOD), Plan)
    assert plan.steps[1] == Step(name="ship", minutes=10) and plan.owners == {"build": "ana"}


@pytest.mark.parametrize("old,new,expected", [
    ("minutes: 10", "minutes: 0", "7: steps.2.minutes: Input should be greater than 0"),   # list items from 1
    ("minutes: 10", "minutes: 10\n    colour: red", "8: steps.2.colour: Extra inputs are not permitted"),
    ("title: rollout\n", "", "2: title: Field required"),                  # missing: the enclosing mapping
    ("- name: ship", "- name: build", "6: steps.2.name: step 2 repeats the name 'build'"),  # ConfigProblem
    ("build: ana", "build: [ana]", "9: owners.build: Input should be a valid string"),
])
def test_the_error_names_file_line_and_field(tmp_path, old, new, expected):
    path, message = _error(tmp_path, GOOD.replace(old, new))
    assert message == f"{path}:{expected}"


def test_yaml_syntax_errors_name_the_line(tmp_path):
    path, message = _error(tmp_path, GOOD.replace("minutes: 5", "minutes: [5"))
    assert message.startswith(f"{path}:6: invalid YAML: ")


def test_file_problems(tmp_path):
    with pytest.raises(ConfigError, match=r"nope.yaml: cannot read: No such file or directory$"):
        load_yaml(tmp_path / "nope.yaml", Plan)
    path, message = _error(tmp_path, "- a\n- b\n")
    assert message == f"{path}:1: top level must be a mapping, got list"
    path, message = _error(tmp_path, "# nothing yet\n")          # empty: the model says what is missing
    assert message == f"{path}: title: Field required"


def test_a_bare_yes_gets_a_quoting_hint(tmp_path):
    _, message = _error(tmp_path, GOOD.replace("title: rollout", "title: yes"))
    assert "title: Input should be a valid string" in message and "put the value in quotes" in message


def test_a_repeated_key_reports_the_one_that_counts(tmp_path):
    path, message = _error(tmp_path, GOOD + "title: [x]\n")
    assert message == f"{path}:10: title: Input should be a valid string"


def test_several_errors_are_one_line_with_a_count(tmp_path):
    text = "title: x\nsteps:\n" + "".join(f"  - name: s{i}\n    minutes: -1\n" for i in range(5))
    path, message = _error(tmp_path, text)
    parts = message.split("; ")
    assert parts[0] == f"{path}:4: steps.1.minutes: Input should be greater than 0"
    assert parts[2].startswith(f"{path}:8: steps.3.minutes") and parts[3] == "and 2 more"


def test_json_files_have_no_lines_but_the_same_shape(tmp_path):
    path, message = _error(tmp_path, '{"title": "x", "steps": [{"name": "a", "minutes": 0}]}', "plan.json")
    assert message == f"{path}: steps.1.minutes: Input should be greater than 0"
    path, message = _error(tmp_path, '{"title": ', "plan.json")
    assert message.startswith(f"{path}:1: invalid JSON")


def test_data_that_never_was_a_file_carries_a_label():
    doc = Document("plan", {"steps": [{"name": "a", "minutes": 1}]})
    with pytest.raises(ConfigError, match=r"^plan: title: Field required$"):
        doc.validate(Plan)
    assert str(doc.error(("steps", 0), "no good")) == "plan: steps.1: no good"


def test_read_gives_the_same_data_as_safe_load(tmp_path):
    import yaml

    path = _write(tmp_path, GOOD + "when: 2026-12-25\nanchors: &a {x: 1}\nagain: *a\n")
    assert read(path).data == yaml.safe_load(path.read_text())


def test_describe_errors_for_input_that_is_no_file():
    with pytest.raises(ValidationError) as err:
        Plan.model_validate({"title": "x", "steps": [{"name": "a", "minutes": 0}], "extra": 1})
    assert describe_errors(err.value) == ("steps.1.minutes: Input should be greater than 0; "
                                          "extra: Extra inputs are not permitted")
    assert field_path(("routes", 2, "start_level")) == "routes.3.start_level"
