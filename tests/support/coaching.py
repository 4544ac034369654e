"""Coaching test helpers: a directory whose people have tokens, and observation slots driven through the sweep's
driver with a fixed observe port (the worker's own port observes nothing until the scorecards' metrics exist)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml

from agents.escalation.auth import hash_token
from agents.escalation.directory import Directory
from agents.performance.coaching import load_training
from agents.performance.coaching_agent import Coaching
from pipeline.db.engine import make_engine
from pipeline.settings import DatabaseSettings
from tests.support.services import ROOT

DAY0 = datetime(2026, 11, 2, 6, 0, tzinfo=timezone.utc)


def tokened_directory(tmp: Path, run_id: str) -> tuple[dict, Path, dict[str, str]]:
    """The shipped directory with an API token per person: (the data, its file, person id -> token)."""
    directory = yaml.safe_load((ROOT / "config" / "directory.yaml").read_text())
    tokens = {}
    for person in directory["people"]:
        tokens[person["id"]] = f"tok-{person['id']}-{run_id}"
        person["token_sha256"] = hash_token(tokens[person["id"]])
    path = tmp / "directory.yaml"
    path.write_text(yaml.safe_dump(directory))
    return directory, path, tokens


def observe_days(db_url: str, directory: dict, observe: Callable, days: Iterable[int]) -> None:
    """One sweep per day DAY0 + d, on the database a worker migrated, with `observe` as the port."""
    async def main():
        engine = make_engine(DatabaseSettings(url=db_url))
        try:
            driver = Coaching(engine, load_training(), Directory.model_validate(directory), observe)
            for d in days:
                await driver.tick(DAY0 + timedelta(days=d))
        finally:
            await engine.dispose()

    asyncio.run(main())
