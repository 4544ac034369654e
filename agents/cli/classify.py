"""`salespulse classify [FILE]`: JSON lines of feedback in -> one classification, and the incident the
worker would raise, per line out, offline (the worker's FeedbackCore, agents/feedback/core.py)."""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

import click
import orjson

_FIELDS = {"text", "language", "rating", "channel", "customer_id"}
# The incident key is per customer: lines without a customer_id share this one.
PLACEHOLDER_CUSTOMER = "cli"


def _parse(raw: bytes) -> tuple[dict | None, str | None]:
    """One input line -> (fields, None) or (None, reason)."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return None, f"not valid JSON ({str(exc).split(':')[0]})"
    if not isinstance(obj, dict):
        return None, f"expected a JSON object, got {type(obj).__name__}"
    text = obj.get("text")
    if not isinstance(text, str) or not text.strip():
        return None, 'missing or empty "text" (a non-empty string)'
    rating = obj.get("rating")
    if rating is not None and (isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5):
        return None, f'"rating" must be an integer 1..5, got {rating!r}'
    for name in ("language", "channel"):
        if obj.get(name) is not None and not isinstance(obj[name], str):
            return None, f'"{name}" must be a string'
    customer = obj.get("customer_id")
    if customer is not None and (not isinstance(customer, str) or not 1 <= len(customer.strip()) <= 128):
        return None, '"customer_id" must be a non-empty string of at most 128 characters'
    return {k: obj.get(k) for k in _FIELDS}, None


def _event(fields: dict, now: datetime):
    """The FeedbackEvent the worker would take for this line (decoded from JSON as at the edge),
    or the reason it would refuse it."""
    from pydantic import ValidationError

    from schemas.events import Channel, FeedbackEvent

    wire = {"occurred_at": now.isoformat(), "text": fields["text"], "language": fields["language"],
            "rating": fields["rating"], "customer_id": fields["customer_id"] or PLACEHOLDER_CUSTOMER,
            # no classifier rule reads the channel and the incident fields shown here do not carry it
            "channel": fields["channel"] or Channel.web.value}
    try:
        return FeedbackEvent.model_validate_json(orjson.dumps(wire)), None
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        return None, f"{'.'.join(map(str, err['loc']))}: {err['msg']}"


def _incident(incident) -> dict | None:
    if incident is None:
        return None
    return {"category": incident.category, "severity": incident.severity.value,
            "incident_key": incident.incident_key, "title": incident.title}


@click.command(name="classify")
@click.argument("file", type=click.File("rb"), default="-", required=False)
@click.option("--config", "config_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="classifier config directory (default: the packaged config/classifier)")
@click.option("--text/--no-text", "echo_text", default=False, help="repeat the input text in each output line")
@click.option("--raise-high/--no-raise-high", "raise_high", default=None,
              help="high-urgency feedback raises an incident, as in the worker "
                   "(default: SALESPULSE_WORKER__RAISE_HIGH_FEEDBACK, true)")
def classify(file, config_dir: Path | None, echo_text: bool, raise_high: bool | None) -> None:
    """Classify feedback offline: JSON lines {"text", "language"?, "rating"?, "channel"?,
    "customer_id"?} from FILE (or standard input) -> one JSON object per line on standard
    output with language, category, sentiment, sentiment_score, urgency, confidence,
    evidence, needs_review, aspects (each category the message touches, with the sentiment
    of its clause), competitors (the competitors of config/competitors.yaml it names, and
    what was compared) and incident: the incident the worker would raise for the
    message (category, severity, incident_key, title) or null. The key is per customer
    ("cli" when the line has no customer_id). A bad line is reported on stderr with its
    number and skipped; the exit code is then 1. A line the worker would refuse (say an
    unknown channel) is still classified, with incident null and a note on stderr."""
    from agents.feedback.classifier import Classifier
    from agents.feedback.core import FeedbackCore

    if raise_high is None:
        from agents.cli.options import settings_from

        raise_high = settings_from().worker.raise_high_feedback
    clf = Classifier.from_config(config_dir) if config_dir else Classifier.default()
    core = FeedbackCore(clf, raise_high=raise_high)
    now = datetime.now(timezone.utc)  # the records' classified_at; nothing shown depends on it
    out = sys.stdout.buffer
    bad = 0
    for number, raw in enumerate(file, start=1):
        if not raw.strip():
            continue
        fields, reason = _parse(raw)
        if fields is None:
            bad += 1
            click.echo(f"line {number}: {reason}", err=True)
            continue
        event, refused = _event(fields, now)
        if event is None:
            click.echo(f"line {number}: the worker would refuse this event ({refused}); incident not computed",
                       err=True)
            result, incident = clf.classify(fields["text"], language=fields["language"], rating=fields["rating"],
                                            channel=fields["channel"]), None
        else:
            outcome = core.process(event, now)
            result, incident = outcome.result, outcome.incident
        record = {**result.model_dump(mode="json"), "incident": _incident(incident)}
        if echo_text:
            record = {"text": fields["text"], **record}
        out.write(orjson.dumps(record) + b"\n")
    out.flush()
    if bad:
        click.echo(f"{bad} bad line(s) skipped", err=True)
        click.get_current_context().exit(1)


commands = [classify]
