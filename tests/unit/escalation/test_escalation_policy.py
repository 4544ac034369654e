"""Policy validation: each mistake refuses start-up with one precise line."""

from __future__ import annotations

import pytest

from agents.escalation.policy import DEFAULT_DIRECTORY, DEFAULT_POLICY, build_policy, load_policy
from pipeline.errors import ConfigError


def test_shipped_policy_is_the_documented_default(shipped_policy):
    cfg = shipped_policy.config
    assert [(lv.name, lv.ack_timeout_minutes) for lv in cfg.levels] == [
        ("account_rep", 15), ("team_lead", 30), ("sales_manager", 60), ("director", 120)]
    assert cfg.repeat == 1


def _set(path, value):
    def edit(pol, _d):
        node = pol
        for p in path[:-1]:
            node = node[p]
        node[path[-1]] = value
    return edit


@pytest.mark.parametrize("edit,message", [
    (_set(("routes", 2, "start_level"), "team_leed"), 'route 3 names unknown level "team_leed"'),
    (_set(("routes", 0, "also_inform"), ["directr"]), 'route 1 also_inform names unknown level "directr"'),
    (_set(("levels", 1, "name"), "account_rep"), 'level 2 repeats the name "account_rep" of level 1'),
    (_set(("levels", 0, "calendar"), "ofice"), 'level 1 "account_rep" uses unknown calendar "ofice"'),
    (_set(("levels", 2, "targets"), [{"role": "sales_mgr"}]),
     'level 3 "sales_manager" targets role "sales_mgr" that nobody in the directory holds'),
    (_set(("levels", 0, "targets"), [{"person": "rep-99"}]), 'level 1 "account_rep" targets unknown person "rep-99"'),
    (_set(("levels", 0, "targets"), [{"role": "account_rep", "person": "rep-1"}]),
     "levels.1.targets.1: a target names exactly one of role or person"),
    (_set(("levels", 0, "ack_timeout_minutes"), 0), "levels.1.ack_timeout_minutes: Input should be greater than 0"),
    (_set(("levels", 0, "ack_timout_minutes"), 5), "levels.1.ack_timout_minutes: Extra inputs are not permitted"),
    (_set(("routes", 0, "match", "severity"), ["urgent"]), "routes.1.match.severity.1: Input should be 'critical'"),
    (_set(("boosts", 0, "match", "segment"), ["Champion"]), "boosts.1.match.segment.1: Input should be 'Champions'"),
    # the last route, however many precede it (parts of the policy add routes before it)
    (_set(("routes", -1, "match"), {"severity": ["low"]}), "is the last route and must match everything"),
    (_set(("storm", "level"), "vp"), 'storm names unknown level "vp"'),
    (_set(("calendars", "office", "timezone"), "Mars/Olympus"), "calendars.office.timezone: unknown time zone"),
    (_set(("calendars", "office", "end"), "08:00"), "calendars.office: end 08:00 is not after start 09:00"),
    (_set(("playbooks", "delivery", "steps"), [{"action": "x", "owner": "courier"}]),
     'playbook "delivery" step 1 names unknown owner "courier"'),
    (_set(("default_playbook",), "fallback"), 'default_playbook names unknown playbook "fallback"'),
    (_set(("version",), 2), "version: Input should be 1"),
])
def test_policy_mistakes_name_the_place(make_policy, edit, message):
    with pytest.raises(ConfigError) as err:
        make_policy(edit)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("edit,message", [
    (lambda _p, d: d["people"].append(dict(d["people"][0])), "person 25 repeats id 'rep-1'"),
    (lambda _p, d: d["people"][0].update(email="rep1-at-example"), "people.1.email: not an email address"),
    (lambda _p, d: d["people"][0].update(webhook="ftp://x"), "people.1.webhook: webhook must be an http(s) URL"),
    (lambda _p, d: d["people"][0].update(token_sha256="s3cret"), "people.1.token_sha256: token_sha256 must be 64"),
    (lambda _p, d: d.update(fallback=["nobody"]), "fallback names unknown person 'nobody'"),
    (lambda _p, d: [p.update(token_sha256="a" * 64) for p in d["people"][:2]], "share one API token"),
])
def test_directory_mistakes_name_the_place(make_policy, edit, message):
    with pytest.raises(ConfigError) as err:
        make_policy(edit)
    assert message in str(err.value)


def test_file_problems_are_one_line(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match="nope.yaml: cannot read: No such file"):
        load_policy(missing)
    bad = tmp_path / "bad.yaml"
    bad.write_text("levels:\n  - name: x\n   targets: [\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:3: invalid YAML"):
        load_policy(bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n")
    with pytest.raises(ConfigError, match="top level must be a mapping, got list"):
        load_policy(listy)


def test_build_policy_from_dicts_reports_policy_name():
    with pytest.raises(ConfigError, match=r"^escalation policy: levels: Field required"):
        build_policy({"routes": [{"start_level": "x"}]}, {"people": [{"id": "a", "name": "A", "role": "r"}]})


def _line_of(text: str, fragment: str, occurrence: int = 1) -> int:
    """1-based line of the `occurrence`-th line containing `fragment`."""
    hits = [n for n, line in enumerate(text.splitlines(), 1) if fragment in line]
    return hits[occurrence - 1]


@pytest.mark.parametrize("file,old,new,occurrence,expected", [
    # a cross-reference check: the line of the value it names
    ("escalation.yaml", "start_level: account_rep", "start_level: team_leed", 2,
     'routes.5.start_level: route 5 names unknown level "team_leed"'),
    # a schema error: the line of the key
    ("escalation.yaml", "ack_timeout_minutes: 15", "ack_timeout_minutes: 0", 1,
     "levels.1.ack_timeout_minutes: Input should be greater than 0"),
    # a check inside the directory model: the line of the repeated id
    ("directory.yaml", "id: rep-2", "id: rep-1", 1, "people.2.id: person 2 repeats id 'rep-1'"),
])
def test_file_mistakes_name_file_line_and_field(tmp_path, file, old, new, occurrence, expected):
    paths = {"escalation.yaml": tmp_path / "escalation.yaml", "directory.yaml": tmp_path / "directory.yaml"}
    for name, src in (("escalation.yaml", DEFAULT_POLICY), ("directory.yaml", DEFAULT_DIRECTORY)):
        text = src.read_text(encoding="utf-8")
        if name == file:
            line = _line_of(text, old, occurrence)
            lines = text.splitlines(keepends=True)
            lines[line - 1] = lines[line - 1].replace(old, new)
            text = "".join(lines)
        paths[name].write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_policy(paths["escalation.yaml"], paths["directory.yaml"])
    assert str(err.value).startswith(f"{paths[file]}:{line}: {expected}")
