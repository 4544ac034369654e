"""Hits in normalised text -> lexicon sentiment sum, with negation, intensifiers, contrast and sarcasm."""

from __future__ import annotations

import math
from typing import NamedTuple

from agents.feedback.config import NegatedScale, SentimentSettings
from agents.feedback.lexicon import CONTRAST, INT, KIND, NEG, SARC, SENT, SENTIMENT_KINDS, Hit, clause_break


_NO_FEELING = SENTIMENT_KINDS.isdisjoint


class Contribution(NamedTuple):
    start: int
    end: int
    value: float  # signed, after negation / intensity / contrast / sarcasm
    rule: str     # "lexicon", "lexicon.negated", "sarcasm"


def _pick(hits: list[Hit]) -> list[Hit]:
    """Longest non-overlapping sentiment-bearing spans, left to right."""
    cands = [h for h in hits if not _NO_FEELING(map(KIND, h.entries))]
    cands.sort(key=lambda h: (h.start, h.start - h.end))
    chosen: list[Hit] = []
    covered = -1
    for h in cands:
        if chosen and chosen[-1].start == h.start and chosen[-1].end == h.end:
            chosen[-1] = Hit(h.start, h.end, chosen[-1].entries + h.entries, h.cjk)
            continue
        if h.start < covered:
            continue
        chosen.append(h)
        covered = h.end
    return chosen


def _within(norm: str, a_end: int, b_start: int, cjk: bool, s: SentimentSettings) -> bool:
    if b_start < a_end or clause_break(norm, a_end, b_start):
        return False
    gap = norm[a_end:b_start]
    if cjk:
        return len(gap.strip()) <= s.negation_window_zh
    return len(gap.split()) <= s.negation_window_en


def score(norm: str, hits: list[Hit], s: SentimentSettings, negated: NegatedScale
          ) -> tuple[float, list[Contribution]]:
    """Lexicon sum (unbounded) and the contributions that made it."""
    chosen = _pick(hits)
    contribs: list[Contribution] = []
    neg_end: int | None = None
    boost, boost_end = 1.0, -1
    contrast_at: int | None = None
    sarcastic = False
    for idx, h in enumerate(chosen):
        kinds = {e.kind: e for e in h.entries}
        nxt = chosen[idx + 1] if idx + 1 < len(chosen) else None
        next_is_sentiment = nxt is not None and any(e.kind in (SENT, INT) for e in nxt.entries) \
            and _within(norm, h.end, nxt.start, h.cjk, s) and (nxt.start - h.end) <= (0 if h.cjk else 1)
        if NEG in kinds and (SENT not in kinds or next_is_sentiment):
            neg_end = h.end
            continue
        if INT in kinds and (SENT not in kinds or next_is_sentiment):
            boost, boost_end = boost * kinds[INT].weight, h.end
            continue
        if CONTRAST in kinds:
            contrast_at = len(contribs)
            neg_end, boost = None, 1.0
            continue
        if SARC in kinds:
            sarcastic = True
            contribs.append(Contribution(h.start, h.end, kinds[SARC].weight, "sarcasm"))
            continue
        ent = kinds.get(SENT)
        if ent is None:
            continue
        value = ent.weight
        if boost_end >= 0 and _within(norm, boost_end, h.start, h.cjk, s):
            value *= boost
        rule = "lexicon"
        if neg_end is not None and _within(norm, neg_end, h.start, h.cjk, s) and value:
            value *= negated.positive if value > 0 else negated.negative
            rule = "lexicon.negated"
        neg_end, boost, boost_end = None, 1.0, -1
        if value:
            contribs.append(Contribution(h.start, h.end, value, rule))
    if contrast_at is not None:
        contribs = [Contribution(c.start, c.end, c.value * (s.contrast_before if i < contrast_at else s.contrast_after),
                                 c.rule) for i, c in enumerate(contribs)]
    if sarcastic:
        contribs = [Contribution(c.start, c.end, c.value * s.sarcasm_positive_scale, "sarcasm.flipped")
                    if c.value > 0 and c.rule != "sarcasm" else c for c in contribs]
    total = sum(c.value for c in contribs)
    if total:
        total *= 1 + s.exclamation_boost * min(norm.count("!"), 3)
    return total, contribs


def squash(total: float, alpha: float) -> float:
    """VADER's normalisation of an unbounded sum into (-1, 1)."""
    return total / math.sqrt(total * total + alpha) if total else 0.0
