"""`salespulse classify [FILE]`: JSON lines of feedback in -> one classification per line out, offline."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import orjson

_FIELDS = {"text", "language", "rating", "channel"}


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
    return {k: obj.get(k) for k in _FIELDS}, None


@click.command(name="classify")
@click.argument("file", type=click.File("rb"), default="-", required=False)
@click.option("--config", "config_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="classifier config directory (default: the packaged config/classifier)")
@click.option("--text/--no-text", "echo_text", default=False, help="repeat the input text in each output line")
def classify(file, config_dir: Path | None, echo_text: bool) -> None:
    """Classify feedback offline: JSON lines {"text", "language"?, "rating"?, "channel"?}
    from FILE (or standard input) -> one JSON object per line on standard output with
    language, category, sentiment, sentiment_score, urgency, confidence, evidence and
    needs_review. A bad line is reported on stderr with its number and skipped; the exit
    code is then 1."""
    from agents.feedback.classifier import Classifier

    clf = Classifier.from_config(config_dir) if config_dir else Classifier.default()
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
        result = clf.classify(fields["text"], language=fields["language"], rating=fields["rating"],
                              channel=fields["channel"])
        record = result.model_dump(mode="json")
        if echo_text:
            record = {"text": fields["text"], **record}
        out.write(orjson.dumps(record) + b"\n")
    out.flush()
    if bad:
        click.echo(f"{bad} bad line(s) skipped", err=True)
        click.get_current_context().exit(1)


commands = [classify]
