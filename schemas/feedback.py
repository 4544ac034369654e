"""Wire models of classified feedback: the classifier's verdict, and the event on feedback.classified."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from typing_extensions import TypedDict

from pydantic import AwareDatetime, ConfigDict, Field, StringConstraints, with_config

from schemas.events import MAX_TEXT, Channel, EventBase, Id, Strict

Language = Literal["en", "zh", "other"]
# product_safety, fraud_security and legal are the critical classes: feedback in them raises an
# incident of the same category, which has its own playbook (config/escalation.yaml)
Category = Literal["product_quality", "pricing", "delivery", "service", "after_sales", "suggestion",
                   "product_safety", "fraud_security", "legal", "other"]
Compared = Literal["price", "quality", "delivery", "service", "general"]
Sentiment = Literal["positive", "neutral", "negative"]
Urgency = Literal["critical", "high", "normal", "low"]
FieldName = Literal["language", "category", "sentiment", "urgency"]
# the same names as tuples, for config validation and CLI choices (written once, above)
CATEGORIES: tuple[str, ...] = get_args(Category)
SENTIMENTS: tuple[str, ...] = get_args(Sentiment)
URGENCIES: tuple[str, ...] = get_args(Urgency)
COMPARED: tuple[str, ...] = get_args(Compared)
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


@with_config(ConfigDict(extra="forbid", strict=True))
class Aspect(TypedDict):
    """One category a message touches, with its own sentiment ("delivery was late but the kettle
    is great": delivery negative, product_quality positive) and the span that says so."""

    category: Category
    sentiment: Sentiment
    term: Annotated[str, StringConstraints(max_length=200)] | None
    start: Annotated[int, Field(ge=0)] | None
    end: Annotated[int, Field(ge=0)] | None


@with_config(ConfigDict(extra="forbid", strict=True))
class CompetitorMention(TypedDict):
    """A competitor named in a message (config/competitors.yaml) and what it was compared on."""

    competitor: Annotated[str, StringConstraints(min_length=1, max_length=64)]  # its id in the config
    compared: Compared
    term: Annotated[str, StringConstraints(max_length=200)]  # the name or alias as written
    start: Annotated[int, Field(ge=0)]
    end: Annotated[int, Field(ge=0)]


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
    aspects: tuple[Aspect, ...] = Field(default=(), max_length=20)  # every category touched; `category` is the primary
    competitors: tuple[CompetitorMention, ...] = Field(default=(), max_length=20)


class ClassifiedFeedback(EventBase, Classification):
    """feedback.classified: one per FeedbackEvent; event_id is the source feedback event's id."""

    event_type: Literal["classified_feedback"] = "classified_feedback"
    channel: Channel
    customer_id: Id
    text: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT)]
    rating: int | None = Field(default=None, ge=1, le=5)
    order_id: Id | None = None
    classified_at: AwareDatetime
