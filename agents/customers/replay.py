"""JSON-lines files -> validated input events (bad lines reported, not fatal) and feedback -> classified facts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from pydantic import ValidationError

from pipeline.decode import describe
from schemas.events import INPUT_ADAPTER, EventBase, FeedbackEvent


@dataclass(frozen=True, slots=True)
class Classified:
    sentiment_score: float
    negative: bool
    category: str


def _fallback(e: FeedbackEvent) -> Classified:
    """No classifier available: the rating decides (<= 2 negative), category unknown."""
    score = (e.rating - 3) / 2 if e.rating is not None else 0.0
    return Classified(score, e.rating is not None and e.rating <= 2, "uncategorised")


def feedback_classifier() -> Callable[[FeedbackEvent], Classified]:
    """The project classifier when importable, else the rating fallback."""
    try:
        from agents.feedback.classifier import Classifier  # written in parallel; optional here
        clf = Classifier.default()
    except Exception:  # noqa: BLE001 - any failure to load means "not available yet"
        return _fallback

    def classify(e: FeedbackEvent) -> Classified:
        r = clf.classify(e.text, language=e.language, rating=e.rating)
        return Classified(float(r.sentiment_score), r.sentiment == "negative", str(r.category))

    return classify


def read_events(paths: Iterable[Path], on_error: Callable[[str], None]) -> Iterator[EventBase]:
    """Yield every valid event; call on_error("FILE:LINE: reason") for the others."""
    for path in paths:
        with open(path, "rb") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    yield INPUT_ADAPTER.validate_json(line)
                except ValidationError as exc:
                    first = exc.errors(include_url=False)[0]
                    reason = first["msg"] if first["type"] == "json_invalid" else describe(exc, limit=3)
                    on_error(f"{path}:{n}: {reason}")
