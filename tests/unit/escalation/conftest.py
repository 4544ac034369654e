"""Fixtures for the escalation core: the shipped policy and small policies built from edited copies of it."""

from __future__ import annotations

import copy

import pytest

from agents.escalation.policy import DEFAULT_DIRECTORY, DEFAULT_POLICY, build_policy, load_policy, read_yaml


@pytest.fixture(scope="session")
def shipped_policy():
    return load_policy()


@pytest.fixture(scope="session")
def raw_config() -> tuple[dict, dict]:
    return read_yaml(DEFAULT_POLICY, "policy"), read_yaml(DEFAULT_DIRECTORY, "directory")


@pytest.fixture
def make_policy(raw_config):
    """make_policy(edit=lambda policy_dict, directory_dict: ...) -> Policy built from an edited copy of the shipped files."""

    def _make(edit=None):
        pol, dire = copy.deepcopy(raw_config)
        if edit is not None:
            edit(pol, dire)
        return build_policy(pol, dire)

    return _make


@pytest.fixture
def policy_24x7(make_policy):
    """The shipped policy without calendars or storm grouping: wall-clock timeouts only."""

    def edit(pol, _dir):
        for lv in pol["levels"]:
            lv.pop("calendar", None)
        pol.pop("storm", None)

    return make_policy(edit)
