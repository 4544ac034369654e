"""The coaching core: peers' median, streaks that reset, one item per rep and metric, recovery, and the config checks."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.performance.coaching import (
    Held, Member, Streak, TrainingConfig, load_training, members_of, peers_median, step,
)
from pipeline.errors import ConfigError

DAY0 = datetime(2026, 11, 2, 6, 0, tzinfo=timezone.utc)
MEMBERS = {"rep-1": Member("team-north", "north"), "rep-2": Member("team-north", "north"),
           "rep-3": Member("team-north", "north"), "rep-9": Member("team-south", "south")}


def cfg(**rule) -> TrainingConfig:
    r = {"metric": "conversion_qualified", "margin": 0.1, "for_days": 3, "topic": "t", **rule}
    return TrainingConfig(topics=[{"id": "t", "title": "T"}], rules=[r])


def obs(rep1, metric="conversion_qualified", peers=(0.5, 0.5)):
    out = {"rep-1": {metric: rep1}, "rep-9": {metric: 0.0}}
    out.update({f"rep-{i + 2}": {metric: v} for i, v in enumerate(peers)})
    return out


def run(c, days, streaks=None, held=None):
    """Feed observations day after day, applying each step as the store does; the items opened and recovered."""
    streaks, held = dict(streaks or {}), dict(held or {})
    opened, recovered = [], []
    for i, o in enumerate(days):
        out = step(c, DAY0 + timedelta(days=i), o, MEMBERS, streaks, held)
        streaks.update(out.streaks)
        for item in out.opened:
            held[(item.rep, item.metric)] = Held(item.item_id, "open")
            opened.append((i, item))
        for item_id in out.recovered:
            held = {k: h for k, h in held.items() if h.item_id != item_id}
            recovered.append((i, item_id))
    return opened, recovered, streaks, held


def test_the_median_is_of_the_peers_in_the_same_team():
    o = {"rep-1": {"m": 0.0}, "rep-2": {"m": 0.2}, "rep-3": {"m": 0.6}, "rep-9": {"m": 5.0}}
    assert peers_median(o, MEMBERS, "rep-1", "m", 1) == pytest.approx(0.4)
    assert peers_median(o, MEMBERS, "rep-1", "m", 3) is None
    assert peers_median(o, MEMBERS, "rep-9", "m", 1) is None


@pytest.mark.parametrize("value, higher, margin, behind", [
    (0.39, True, 0.1, True), (0.4, True, 0.1, False), (0.45, True, 0.1, False),
    (91.0, False, 30, True), (90.0, False, 30, False), (10.0, False, 30, False),
])
def test_behind_is_worse_than_the_median_by_more_than_the_absolute_margin(value, higher, margin, behind):
    metric = "conversion_qualified" if higher else "ack_minutes"
    median = 0.5 if higher else 60.0
    c = cfg(metric=metric, margin=margin, for_days=1)
    out = step(c, DAY0, obs(value, metric, (median, median)), MEMBERS, {}, {})
    assert bool(out.opened) is behind


def test_an_item_opens_on_the_for_days_th_consecutive_observation_behind_once():
    opened, _, streaks, _ = run(cfg(), [obs(0.2)] * 6)
    [(day, item)] = opened
    assert day == 2 and (item.rep, item.metric, item.topic, item.team) == ("rep-1", "conversion_qualified", "t",
                                                                            "team-north")
    assert (item.value, item.median) == (0.2, 0.5)
    assert streaks[("rep-1", "conversion_qualified")] == Streak(0, 0)  # held: not counted while the item is open


def test_one_observation_not_behind_or_missing_resets_the_streak():
    opened, *_ = run(cfg(), [obs(0.2), obs(0.2), obs(0.5), obs(0.2), obs(0.2), obs(None), obs(0.2), obs(0.2)])
    assert opened == []
    opened, *_ = run(cfg(), [obs(0.2), obs(0.2), obs(0.2, peers=())])  # no peer holding a value: no evidence
    assert opened == []


def test_an_unassigned_item_recovers_after_for_days_observations_not_behind_an_assigned_one_waits():
    days = [obs(0.2)] * 3 + [obs(0.5), obs(0.5), obs(0.2), obs(0.5), obs(0.5), obs(0.5)]
    opened, recovered, _, _ = run(cfg(), days)
    assert [d for d, _ in opened] == [2] and recovered == [(8, opened[0][1].item_id)]
    held = {("rep-1", "conversion_qualified"): Held("x", "assigned")}
    _, recovered, _, still = run(cfg(), [obs(0.5)] * 5, held=held)
    assert recovered == [] and still == held


def test_after_an_item_closes_a_new_one_needs_for_days_fresh_observations():
    opened, *_ = run(cfg(), [obs(0.2)] * 3 + [obs(0.5)] * 3 + [obs(0.2)] * 3)
    assert [d for d, _ in opened] == [2, 8] and opened[0][1].item_id != opened[1][1].item_id


def test_current_values_are_reported_for_every_rep_observed():
    out = step(cfg(), DAY0, obs(0.2), MEMBERS, {}, {})
    assert out.current[("rep-1", "conversion_qualified")] == (0.2, 0.5)
    assert ("rep-9", "conversion_qualified") not in out.current   # alone in their team


def test_reps_outside_the_directory_are_not_compared():
    o = {"rep-1": {"conversion_qualified": 0.5}, "stranger": {"conversion_qualified": 0.0},
         "rep-2": {"conversion_qualified": 0.5}}
    assert step(cfg(for_days=1), DAY0, o, MEMBERS, {}, {}).opened == []


def test_members_are_the_directory_reps_with_a_team():
    from agents.escalation.directory import Person
    people = [Person(id="rep-1", name="R", role="account_rep", team="n", region="north"),
              Person(id="lead", name="L", role="team_lead", team="n", region="north"),
              Person(id="solo", name="S", role="account_rep")]
    assert members_of(people) == {"rep-1": Member("n", "north")}


# --- properties -------------------------------------------------------------------------------------------

values = st.one_of(st.none(), st.floats(min_value=0.0, max_value=1.0, allow_nan=False))
day_obs = st.fixed_dictionaries({f"rep-{i}": st.fixed_dictionaries({"conversion_qualified": values})
                                 for i in (1, 2, 3)})


@settings(max_examples=150, deadline=None)
@given(days=st.lists(day_obs, max_size=30), for_days=st.integers(1, 4))
def test_never_two_open_items_per_rep_and_metric_and_items_open_only_after_a_full_streak(days, for_days):
    c = cfg(for_days=for_days)
    streaks: dict = {}
    held: dict = {}
    run_behind = {r: 0 for r in ("rep-1", "rep-2", "rep-3")}
    for i, o in enumerate(days):
        out = step(c, DAY0 + timedelta(days=i), o, MEMBERS, streaks, held)
        for rep in run_behind:  # the oracle: consecutive observations behind the peers' median, held or not
            v = o[rep]["conversion_qualified"]
            m = peers_median(o, MEMBERS, rep, "conversion_qualified", 1) if v is not None else None
            run_behind[rep] = run_behind[rep] + 1 if m is not None and v < m - 0.1 else 0
        keys = [(x.rep, x.metric) for x in out.opened]
        assert len(keys) == len(set(keys))
        for x in out.opened:
            assert (x.rep, x.metric) not in held
            assert run_behind[x.rep] >= for_days and x.value < x.median - 0.1
        for (rep, metric), s in out.streaks.items():
            assert 0 <= s.behind < for_days and s.ok < for_days and not (s.behind and s.ok)
        streaks.update(out.streaks)
        held = {k: h for k, h in held.items() if h.item_id not in out.recovered}
        held.update({(x.rep, x.metric): Held(x.item_id, "open") for x in out.opened})
        for rep, n in run_behind.items():
            if n >= for_days and (rep, "conversion_qualified") not in held:
                pytest.fail(f"{rep} behind {n} observations running without an item")


@settings(max_examples=100, deadline=None)
@given(days=st.lists(day_obs, max_size=20))
def test_replaying_a_step_with_the_state_it_read_gives_the_same_change(days):
    c = cfg(for_days=2)
    streaks: dict = {}
    for i, o in enumerate(days):
        a = step(c, DAY0 + timedelta(days=i), o, MEMBERS, streaks, {})
        b = step(c, DAY0 + timedelta(days=i), o, MEMBERS, streaks, {})
        assert a == b
        streaks.update(a.streaks)


# --- config ----------------------------------------------------------------------------------------------

def test_the_shipped_training_config_loads():
    c = load_training()
    assert {r.metric for r in c.rules} == {"conversion_lead", "conversion_qualified", "conversion_proposal",
                                           "conversion_negotiation", "ack_minutes", "sentiment"}
    assert not next(r for r in c.rules if r.metric == "ack_minutes").higher
    assert c.slot(DAY0) == datetime(2026, 11, 2, tzinfo=timezone.utc)


@pytest.mark.parametrize("rules, expect", [
    ("- {metric: conversion_qualifed, margin: 0.1, for_days: 3, topic: t}",
     'x.yaml:5: rules.1.metric: rule 1 names unknown metric "conversion_qualifed"'),
    ("- {metric: sentiment, margin: 0.1, for_days: 3, topic: nope}",
     'x.yaml:5: rules.1.topic: rule 1 names unknown topic "nope" (topics: t)'),
    ("- {metric: sentiment, margin: 0.1, for_days: 3, topic: t}\n- {metric: sentiment, margin: 0.2, for_days: 3, topic: t}",
     'x.yaml:6: rules.2.metric: a second rule for metric "sentiment"'),
    ("- {metric: sentiment, margin: -1, for_days: 3, topic: t}", "x.yaml:5: rules.1.margin: "),
    ("- {metric: sentiment, margin: 0.1, for_days: 0, topic: t}", "x.yaml:5: rules.1.for_days: "),
])
def test_config_mistakes_name_file_line_and_field(tmp_path, monkeypatch, rules, expect):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.yaml").write_text(f"version: 1\ntopics:\n  - {{id: t, title: T}}\nrules:\n{rules}\n")
    with pytest.raises(ConfigError) as exc:
        load_training("x.yaml")
    assert str(exc.value).startswith(expect), str(exc.value)


@settings(max_examples=150, deadline=None)
@given(behind=st.lists(st.booleans(), max_size=25), for_days=st.integers(1, 4), assigned=st.booleans())
def test_an_open_item_recovers_exactly_after_for_days_observations_not_behind_an_assigned_one_never(
        behind, for_days, assigned):
    c = cfg(for_days=for_days)
    held = {("rep-1", "conversion_qualified"): Held("item", "assigned" if assigned else "open")}
    streaks: dict = {}
    ok_run = 0
    for i, b in enumerate(behind):
        out = step(c, DAY0 + timedelta(days=i), obs(0.2 if b else 0.5), MEMBERS, streaks, held)
        ok_run = 0 if b else ok_run + 1
        assert out.opened == []   # the item holds its rep and metric
        if out.recovered:
            assert not assigned and ok_run == for_days and out.recovered == ["item"]
            return
        assert assigned or ok_run < for_days
        streaks.update(out.streaks)
