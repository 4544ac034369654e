"""Lexicon hits of one message -> its aspects: each category a clause touches, with that clause's sentiment.

"delivery was late but the kettle is great" -> delivery negative, product_quality positive. The
message's own category and sentiment stay what the classifier decides; aspects say what else it
touched and how the customer felt about each part. Pure: the hits come from the classifier's scan.
"""

from __future__ import annotations

from operator import itemgetter

from agents.feedback import sentiment as senti
from agents.feedback.config import NegatedScale, SentimentSettings
from agents.feedback.lexicon import CAT, KIND, SENTIMENT_KINDS, Hit
from agents.feedback.text import EN_COMMON, TOKEN, clause_bounds
from schemas.feedback import Aspect, Sentiment

# A clause touches a category when its keywords for it weigh this much: the weak hints of
# categories.yaml ("made": 0.5, "size": 0.5) help the message's category but name no topic alone.
MIN_WEIGHT = 1.0
# A clause that feels something and names no topic ("... but the kettle is great") is about the
# product itself: product names are the catalogue's, not the lexicon's. Only beside a clause that
# does name one; a message that is all one feeling has its category and sentiment already.
UNNAMED = "product_quality"
# ...and that clause must name something: a word outside the common ones and the feeling itself
# ("the kettle is great", "水壶很好用"), not only "thanks!" or "谢谢你们".
_START = itemgetter(0)  # Hit.start, read in C
_NO_FEELING = SENTIMENT_KINDS.isdisjoint
_FUNCTION_ZH = frozenset("你我他她它们的了吧啊呀哦嘛呢很也都就是这那个真太挺好谢")


def aspects(text: str, norm: str, hits: list[Hit], s: SentimentSettings, negated: NegatedScale,
            whole: tuple[float, list] | None = None) -> list[Aspect]:
    """At most one aspect per category (the clause that feels most strongly about it), in text order.

    `norm` is normalise(text) and `hits` the Lexicon's scan of it; "other" is no aspect. `whole`: the
    lexicon's (sum, contributions) over the whole message, which is the clause's when there is one."""
    if not any(CAT in map(KIND, h.entries) for h in hits):
        return []
    bounds = clause_bounds(norm)
    by_clause: list[list[Hit]] = [[] for _ in bounds]
    i = 0
    for h in sorted(hits, key=_START):
        while i < len(bounds) and bounds[i][1] <= h.start:
            i += 1
        if i == len(bounds):
            break
        if bounds[i][0] <= h.start and h.end <= bounds[i][1]:
            by_clause[i].append(h)
    best: dict[str, tuple[float, float, Hit, Sentiment]] = {}
    unnamed: list[tuple[float, Hit, Sentiment]] = []
    for n, clause_hits in enumerate(by_clause):
        weights: dict[str, float] = {}
        strongest: dict[str, tuple[float, Hit]] = {}
        for h in clause_hits:
            for e in h.entries:
                if e.kind == CAT and e.label != "other":
                    weights[e.label] = weights.get(e.label, 0.0) + e.weight
                    if e.label not in strongest or e.weight > strongest[e.label][0]:
                        strongest[e.label] = (e.weight, h)
        touched = [c for c, w in weights.items() if w >= MIN_WEIGHT]
        feeling = [h for h in clause_hits if not _NO_FEELING(map(KIND, h.entries))]
        if not touched and not feeling:
            continue
        if not feeling:
            total, contribs = 0.0, []
        elif whole is not None and len(bounds) == 1:
            total, contribs = whole
        else:
            total, contribs = senti.score(norm, feeling, s, negated)
        score = senti.squash(total, s.alpha)
        label: Sentiment = ("positive" if score >= s.positive_threshold else
                            "negative" if score <= s.negative_threshold else "neutral")
        if not touched:
            if label != "neutral" and _names_something(norm, bounds[n], feeling):
                c = max(contribs, key=lambda c: abs(c.value))
                unnamed.append((abs(score), Hit(c.start, c.end, (), False), label))
            continue
        for c in touched:
            key = (abs(score), weights[c])
            if c not in best or key > best[c][:2]:
                best[c] = (abs(score), weights[c], strongest[c][1], label)
    if best and UNNAMED not in best and unnamed:
        strength, h, label = max(unnamed, key=lambda u: u[0])
        best[UNNAMED] = (strength, 0.0, h, label)
    found = sorted(best.items(), key=lambda kv: kv[1][2].start)
    return [{"category": c, "sentiment": label, "term": text[h.start:h.end][:200], "start": h.start, "end": h.end}
            for c, (_, _, h, label) in found]  # type: ignore[misc]


def _names_something(norm: str, bounds: tuple[int, int], feeling: list[Hit]) -> bool:
    lo, hi = bounds
    chars = list(norm[lo:hi])
    for h in feeling:
        chars[h.start - lo:h.end - lo] = " " * (h.end - h.start)
    rest = "".join(chars)
    if any(w not in EN_COMMON and w[0].isalpha() for w in TOKEN.findall(rest)):
        return True
    return sum(1 for c in rest if "\u4e00" <= c <= "\u9fff" and c not in _FUNCTION_ZH) >= 2
