"""`salespulse feedback review|correct`: the human side of classification."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import click
from sqlalchemy import insert, select

from agents.cli.options import database_option, run_db
from pipeline.errors import UserInputError
from schemas.feedback import CATEGORIES, SENTIMENTS, URGENCIES


@click.group()
def feedback() -> None:
    """Classified feedback: review queue and corrections."""


@feedback.command()
@database_option
@click.option("--limit", type=int, default=20, show_default=True)
def review(database, limit) -> None:
    """List feedback the classifier was unsure about (JSON lines, newest first)."""
    from pipeline.db.models import ClassifiedFeedbackRow as R

    async def q(engine, _settings):
        async with engine.connect() as conn:
            return (await conn.execute(
                select(R.event_id, R.text, R.category, R.sentiment, R.urgency, R.confidence)
                .where(R.needs_review.is_(True)).order_by(R.classified_at.desc()).limit(limit))).all()

    for row in run_db(database, q):
        click.echo(json.dumps(dict(zip(("event_id", "text", "category", "sentiment", "urgency", "confidence"), row)),
                              ensure_ascii=False))


@feedback.command()
@click.argument("event_id")
@click.option("--category", type=click.Choice(CATEGORIES))
@click.option("--sentiment", type=click.Choice(SENTIMENTS))
@click.option("--urgency", type=click.Choice(URGENCIES))
@click.option("--by", required=True, help="who corrects (kept in the audit)")
@database_option
def correct(event_id, category, sentiment, urgency, by, database) -> None:
    """Correct the classification of feedback EVENT_ID; workers apply it from then on."""
    from pipeline.db.models import ClassifiedFeedbackRow as R
    from pipeline.db.models import FeedbackCorrection as C

    if not (category or sentiment or urgency):
        raise UserInputError("give at least one of --category, --sentiment, --urgency")

    async def go(engine, _settings):
        async with engine.begin() as conn:
            row = (await conn.execute(select(R.text).where(R.event_id == event_id))).first()
            if row is None:
                raise UserInputError(f"no classified feedback with event id {event_id!r}")
            await conn.execute(insert(C).values(event_id=event_id, text=row[0], category=category, sentiment=sentiment,
                                                urgency=urgency, corrected_by=by,
                                                corrected_at=datetime.now(timezone.utc)))
            changes = {k: v for k, v in (("category", category), ("sentiment", sentiment), ("urgency", urgency)) if v}
            await conn.execute(R.__table__.update().where(R.event_id == event_id).values(needs_review=False, **changes))

    run_db(database, go)
    click.echo(f"correction of {event_id} stored; workers apply it within seconds")


commands = [feedback]
