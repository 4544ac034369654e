"""Observations JSONL ({at, rep, metric, value}) -> the coaching core with in-memory streaks and items -> what
would open and recover, slot by slot: the offline driver of the core the worker's sweep runs."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path

from agents.performance.coaching import Held, Member, TrainingConfig, step
from pipeline.errors import UserInputError

Row = tuple[datetime, str, str, float | None]


def _row(text: str, where: str) -> Row:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserInputError(f"{where}: not JSON: {exc.msg}") from None
    if not isinstance(doc, dict) or set(doc) != {"at", "rep", "metric", "value"}:
        raise UserInputError(f"{where}: expected an object with exactly at, rep, metric, value")
    try:
        at = datetime.fromisoformat(str(doc["at"]).replace("Z", "+00:00"))
    except ValueError:
        raise UserInputError(f"{where}: at {str(doc['at'])[:40]!r} is not an ISO 8601 time") from None
    if at.tzinfo is None:
        raise UserInputError(f"{where}: at {doc['at']!r} needs a timezone")
    value = doc["value"]
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                              or not math.isfinite(value)):
        raise UserInputError(f"{where}: value must be a number or null, not {str(value)[:40]!r}")
    if not isinstance(doc["rep"], str) or not isinstance(doc["metric"], str):
        raise UserInputError(f"{where}: rep and metric must be strings")
    return at, doc["rep"], doc["metric"], None if value is None else float(value)


def read_observations(path: Path) -> list[Row]:
    """Every line of a JSON Lines file (blank lines skipped); a bad line -> UserInputError `file:line: ...`."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserInputError(f"{path}: cannot read: {exc}") from None
    return [_row(text, f"{path}:{n}") for n, text in enumerate(lines, 1) if text.strip()]


def simulate(cfg: TrainingConfig, members: Mapping[str, Member], rows: Iterable[Row]) -> Iterator[dict]:
    """One observation per distinct `at` (in time order), as the sweep makes per slot; a JSON-ready dict per
    item opened ({at, event: opened, id, rep, team, metric, topic, value, median}) and recovered."""
    by_at: dict[datetime, dict[str, dict[str, float | None]]] = {}
    for at, rep, metric, value in rows:
        by_at.setdefault(at, {}).setdefault(rep, {})[metric] = value
    streaks: dict = {}
    held: dict = {}
    for at in sorted(by_at):
        out = step(cfg, at, by_at[at], members, streaks, held)
        streaks.update(out.streaks)
        for item_id in out.recovered:
            key = next(k for k, h in held.items() if h.item_id == item_id)
            del held[key]
            yield {"at": at.isoformat(), "event": "recovered", "id": item_id, "rep": key[0], "metric": key[1]}
        for o in out.opened:
            held[(o.rep, o.metric)] = Held(o.item_id, "open")
            yield {"at": at.isoformat(), "event": "opened", "id": o.item_id, "rep": o.rep, "team": o.team,
                   "metric": o.metric, "topic": o.topic, "value": o.value, "median": o.median}
