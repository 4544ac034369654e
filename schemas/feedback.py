"""Wire models of classified feedback: the classifier's verdict, and the event on feedback.classified."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from typing_extensions import TypedDict

from pydantic import AwareDatetime, ConfigDict, Field, StringConstraints, with_config

from schemas.events import MAX_TEXT, Channel, EventBase, Id, Strict

Language = Literal["en", "zh", "other"]
Category = Literal["product_quality", "pricing", "delivery", "service", "after_sales", "suggestion", "other"]
Sentiment = Literal["positive", "neutral", "negative"]
Urgency = Literal["critical", "high", "normal", "low"]
FieldName = Literal["language", "category", "sentiment", "urgency"]
# the same names as tuples, for config validation and CLI choices (written once, above)
CATEGORIES: tuple[str, ...] = get_args(Category)
SENTIMENTS: tuple[str, ...] = get_args(Sentiment)
URGENCIES: tuple[str, ...] = get_args(Urgency)
Unit = Annotated[float, Field(ge=0.0, le=1.0)]


@with_config(ConfigDict(extra="forbid", strict=True))
class Evidence(TypedDict):
    """Why one field got its label: a matched term with its span in the text, or a named rule.

    A plain mapping rather than a model: a message carries several, and building nested model
    instances cost more than the rest of classification on the hot path.
    """

    field: FieldName
    label: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    rule: Annotated[str, StringConstraints(min_length=1, max_length=64)]  # e.g. "lexicon", "critical.safety", "model"
    term: Annotated[str, StringConstraints(max_length=200)] | None  # text[start:end] of the original text
    start: Annotated[int, Field(ge=0)] | None  # both set (a span) or both None (a rule)
    end: Annotated[int, Field(ge=0)] | None


class Classification(Strict):
    """The classifier's verdict on one message."""

    language: Language
    category: Category
    sentiment: Sentiment
    sentiment_score: Annotated[float, Field(ge=-1.0, le=1.0)]
    urgency: Urgency
    confidence: dict[FieldName, Unit]
    evidence: tuple[Evidence, ...] = Field(default=(), max_length=200)
    needs_review: bool = False


class ClassifiedFeedback(EventBase, Classification):
    """feedback.classified: one per FeedbackEvent; event_id is the source feedback event's id."""

    event_type: Literal["classified_feedback"] = "classified_feedback"
    channel: Channel
    customer_id: Id
    text: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT)]
    rating: int | None = Field(default=None, ge=1, le=5)
    order_id: Id | None = None
    classified_at: AwareDatetime
