"""config/classifier/*.yaml + model.json (+ config/competitors.yaml) -> validated ClassifierConfig, or a precise ConfigError."""

from __future__ import annotations

import math
import re
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from agents.feedback.competitors import DEFAULT_NAME as COMPETITORS_FILE
from agents.feedback.competitors import CompetitorsConfig, load_competitors
from pipeline import configfile
from pipeline.configfile import ConfigProblem, Document
from pipeline.errors import ConfigError
from schemas.feedback import CATEGORIES, URGENCIES, Category, FieldName
from schemas.feedback import SENTIMENTS as _SENTIMENTS

# model.json lists the sentiment classes alphabetically; the trainer keeps that order
SENTIMENTS: tuple[str, ...] = tuple(sorted(_SENTIMENTS))

Term = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
Weight = Annotated[float, Field(ge=-10, le=10, allow_inf_nan=False)]
Unit = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
FILES = ("settings.yaml", "categories.yaml", "sentiment.yaml", "urgency.yaml", "model.json")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


def _weights(v: Any) -> Any:
    """A plain list means weight 1.0 for every term; a mapping gives weights."""
    if isinstance(v, list):
        return {t: 1.0 for t in v}
    if isinstance(v, dict):
        return {k: float(w) if isinstance(w, int) and not isinstance(w, bool) else w for k, w in v.items()}
    return v


class WeightedTerms(_Model):
    en: dict[Term, Weight] = {}
    zh: dict[Term, Weight] = {}

    _lists = field_validator("en", "zh", mode="before")(_weights)


class TermLists(_Model):
    en: list[Term] = []
    zh: list[Term] = []


class LanguageSettings(_Model):
    cjk_per_latin_letter: Annotated[float, Field(gt=0, le=20)] = 3.0
    min_english_share: Unit = 0.5


class SentimentSettings(_Model):
    alpha: Annotated[float, Field(gt=0, le=100)] = 6.0
    model_weight: Unit = 0.35
    # the language's polarity model (trained on public review corpora and the own set): its share
    # of the score; the lexicon gets what model_weight and polarity_weight leave
    polarity_weight: Unit = 0.0
    rating_weight: Unit = 0.2
    positive_threshold: Unit = 0.15
    negative_threshold: Annotated[float, Field(ge=-1, le=0)] = -0.15
    negation_window_en: Annotated[int, Field(ge=0, le=10)] = 3
    negation_window_zh: Annotated[int, Field(ge=0, le=10)] = 3
    contrast_before: Annotated[float, Field(ge=0, le=5)] = 0.5
    contrast_after: Annotated[float, Field(ge=0, le=5)] = 1.5
    # the lexicon's least share of the score when a contrast word turns the message ("but", "但是"):
    # the n-gram models read a bag of words and cannot tell which half counts
    contrast_lexicon_weight: Unit = 0.0
    # a score between the thresholds takes its sign unless the own model finds the message neutral
    # with at least this probability (0: the thresholds alone decide)
    neutral_min_probability: Unit = 0.0
    # what neutral_min_probability becomes, in step with the move below, on text the own models
    # barely know (their P(neutral) is less sure there too)
    neutral_min_probability_unknown: Unit = 0.0
    # the own model's share of the score moves to the polarity model as the share of a message's
    # n-grams the own models know falls from model_known_full to model_known_zero (off when
    # model_known_full is 0)
    model_known_full: Unit = 0.0
    model_known_zero: Unit = 0.0

    @field_validator("model_known_zero")
    @classmethod
    def _below_full(cls, v: float, info: ValidationInfo) -> float:
        full = info.data.get("model_known_full", 0.0)
        if full and v >= full:
            raise ValueError(f"must be below model_known_full ({full}), or model_known_full 0 to turn the move off")
        return v
    exclamation_boost: Unit = 0.08
    sarcasm_positive_scale: Annotated[float, Field(ge=-2, le=2)] = -0.5


class CategorySettings(_Model):
    keyword_weight: Annotated[float, Field(ge=0, le=10)] = 1.0
    model_weight: Annotated[float, Field(ge=0, le=10)] = 1.0


class UrgencySettings(_Model):
    very_negative_score: Annotated[float, Field(ge=-1, le=0)] = -0.6
    # the urgency model's probability of critical at or above which a message is critical without
    # a rule (1.0: rules only); its strongest n-grams are the evidence
    model_critical: Unit = 1.0
    # the same for a message whose category is not a critical class and whose critical classes
    # together have less than critical_class_share of the category probability
    model_critical_elsewhere: Unit = 1.0
    critical_class_share: Unit = 0.0
    # whether the critical families fire on a question that reads neutral (false: the urgency model
    # decides such a message)
    families_on_calm_questions: bool = True
    # a message whose category is a critical class (product_safety, fraud_security, legal) with at
    # least this confidence is critical (1.0: never by category alone)
    critical_category: Unit = 1.0


class ReviewSettings(_Model):
    min_confidence: dict[FieldName, Unit] = {}


class Settings(_Model):
    version: Literal[1]
    language: LanguageSettings = LanguageSettings()
    sentiment: SentimentSettings = SentimentSettings()
    category: CategorySettings = CategorySettings()
    urgency: UrgencySettings = UrgencySettings()
    review: ReviewSettings = ReviewSettings()


class CategoriesFile(_Model):
    version: Literal[1]
    categories: dict[Category, WeightedTerms]


class NegatedScale(_Model):
    positive: Annotated[float, Field(ge=-2, le=2)] = -0.74
    negative: Annotated[float, Field(ge=-2, le=2)] = -0.5


class SentimentFile(_Model):
    version: Literal[1]
    use_vader_lexicon: bool = True
    negators: TermLists = TermLists()
    negated_scale: NegatedScale = NegatedScale()
    intensifiers: WeightedTerms = WeightedTerms()
    contrast: TermLists = TermLists()
    sarcasm: WeightedTerms = WeightedTerms()
    terms: WeightedTerms = WeightedTerms()


class Family(_Model):
    description: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    # any: the trigger alone decides; not_positive / negative: also needs that sentiment.
    requires: Literal["any", "not_positive", "negative"] = "any"
    # critical families: the category a message they match gets (and its incident, whose playbook
    # follows the category), unless the classifier already chose another critical category
    category: Category | None = None
    terms: TermLists = TermLists()
    patterns: list[Annotated[str, StringConstraints(min_length=1, max_length=500)]] = []

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, v: list[str]) -> list[str]:
        for i, p in enumerate(v):
            try:
                re.compile(p)
            except re.error as exc:
                raise ConfigProblem((i,), f"{p!r} is not a valid regular expression: {exc}") from None
        return v


FamilyName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,40}$")]


class UrgencyFile(_Model):
    version: Literal[1]
    critical: dict[FamilyName, Family]
    high: dict[FamilyName, Family]
    exclude: TermLists = TermLists()


class LinearField(_Model):
    classes: list[str]
    bias: list[float]
    weights: dict[str, list[float]]


CALIBRATION_BINS = 10
ModelField = Literal["category", "sentiment", "urgency", "polarity_en", "polarity_zh"]
POLARITY = ("negative", "positive")


def model_classes(field: str) -> tuple[str, ...]:
    return {"category": CATEGORIES, "sentiment": SENTIMENTS, "urgency": URGENCIES}.get(field, POLARITY)


class ModelFile(_Model):
    version: Literal[1]
    # v1: the n-grams of model.features for every field; v2: the own set's fields (category,
    # sentiment, urgency) also read model.markers (negation, contrast, question), the polarity ones not
    features: Literal["v1", "v2"]
    fields: dict[ModelField, LinearField]
    trained_on: dict[str, Any] = {}
    # field -> CALIBRATION_BINS accuracies: a stated confidence in bin i is read as calibration[i],
    # measured by cross-fitting on the own set's train split (agents/feedback/train.py)
    calibration: dict[Literal["category", "sentiment", "urgency"], list[Unit]] = {}

    @field_validator("calibration")
    @classmethod
    def _bins(cls, v: dict[str, list[float]]) -> dict[str, list[float]]:
        for field, bins in v.items():
            if len(bins) != CALIBRATION_BINS:
                raise ConfigProblem((field,), f"must have {CALIBRATION_BINS} values, got {len(bins)}")
        return v


class ClassifierConfig(_Model):
    """Everything the classifier needs, validated; `source` says where it came from."""

    source: str
    settings: Settings
    categories: CategoriesFile
    sentiment: SentimentFile
    urgency: UrgencyFile
    model: ModelFile
    # competitors.yaml beside the classifier's directory; none there means no competitor is looked for
    competitors: CompetitorsConfig = Field(default_factory=CompetitorsConfig)


def default_dir() -> Path:
    return Path(str(resources.files("config").joinpath("classifier")))


def _check_model(doc: Document, model: ModelFile) -> None:
    for field, lin in model.fields.items():
        expected = model_classes(field)
        if sorted(lin.classes) != sorted(expected):
            raise doc.error(("fields", field, "classes"), f"must be {list(expected)}, got {lin.classes}")
        n = len(lin.classes)
        if len(lin.bias) != n:
            raise doc.error(("fields", field, "bias"), f"has {len(lin.bias)} values for {n} classes")
        for feat, ws in lin.weights.items():
            if len(ws) != n or not all(math.isfinite(w) for w in ws):
                raise doc.error(("fields", field, "weights", feat), f"must be {n} finite numbers")
    missing = {"category", "sentiment"} - set(model.fields)
    if missing:
        raise doc.error(("fields",), f"lacks {sorted(missing)}")


def load_config(path: str | Path | None = None) -> ClassifierConfig:
    """Read and validate the classifier directory (default: the packaged config/classifier) and the
    competitors.yaml beside it, when there is one."""
    directory = Path(path) if path is not None else default_dir()
    if not directory.is_dir():
        raise ConfigError(f"{directory}: not a directory (the classifier config is a directory of {', '.join(FILES)})")
    docs: dict[str, Document] = {}
    parsed: list[Any] = []
    for name, schema in zip(FILES, (Settings, CategoriesFile, SentimentFile, UrgencyFile, ModelFile)):
        docs[name] = configfile.read(directory / name)
        parsed.append(docs[name].validate(schema))
    settings, cats, sentiment, urg, model = parsed
    if not any(t.en or t.zh for t in cats.categories.values()):
        raise docs["categories.yaml"].error(("categories",), "no terms at all")
    for level in ("critical", "high"):
        for fam_name, fam in getattr(urg, level).items():
            if not (fam.terms.en or fam.terms.zh or fam.patterns):
                raise docs["urgency.yaml"].error((level, fam_name), "has neither terms nor patterns")
    _check_model(docs["model.json"], model)
    competitors_file = directory.parent / COMPETITORS_FILE
    competitors = load_competitors(competitors_file) if competitors_file.is_file() else CompetitorsConfig()
    return ClassifierConfig(source=str(directory), settings=settings, categories=cats, sentiment=sentiment,
                            urgency=urg, model=model, competitors=competitors)
