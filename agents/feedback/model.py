"""Normalised text -> character / word n-gram features -> per-class logits of a small linear model."""

from __future__ import annotations

import math
import random
from bisect import bisect_left
import re
from operator import add, itemgetter

import numpy as np

from agents.feedback.config import LinearField
from agents.feedback.lexicon import CONTRAST, NEG, Hit, stem
from agents.feedback.text import CLAUSE_PUNCT, TOKEN, asks


_FIRST = itemgetter(0)
_CJK_RUN = re.compile(r"[\u3400-\u9fff]+")
# Pictographs and symbols (emoji, arrows, dingbats), not CJK punctuation or full-width forms.
_SYMBOL = re.compile(r"[\u2190-\u2bff\U0001f000-\U0001faff]")


def features(norm: str, tokens: list[tuple[str, int, int]] | None = None) -> list[str]:
    """Chinese character unigrams + bigrams, English word stems + stem bigrams, emoji."""
    feats: set[str] = set()
    for run in _CJK_RUN.findall(norm):
        feats.update(run)
        if len(run) > 1:
            feats.update(map(add, run, run[1:]))
    feats.update(_SYMBOL.findall(norm))
    if tokens is None:
        tokens = [(m.group(), m.start(), m.end()) for m in TOKEN.finditer(norm)]
    last = ""
    for tok, _, _ in tokens:
        if not tok[0].isalnum():
            last = ""
            continue
        s = stem(tok)
        feats.add("w:" + s)
        if last:
            feats.add("b:" + last + "_" + s)
        last = s
    return sorted(feats)  # one order in every process (a set follows the per-process string hash)


NEG_REACH = 3        # words (English) or characters (Chinese) a negator governs, as the lexicon's window
CONTRAST_REACH = 8   # ...and a contrast word ("but", "但是"): the rest of its clause, mostly


def _after(norm: str, tokens: list[tuple[str, int, int]], starts: list[int], hit: Hit, reach: int) -> list[str]:
    """The word stems (English) or character bigrams (Chinese) that follow `hit` in its clause, up
    to `reach` words or characters. `starts`: the tokens' start offsets, to find the first one after
    the hit without walking the message from its start (a 10,000-character message of negators took
    93 ms that way)."""
    if hit.cjk:
        seg = norm[hit.end:hit.end + reach + 1]
        for i, ch in enumerate(seg):
            if ch in CLAUSE_PUNCT:
                seg = seg[:i]
                break
        return list(map(add, seg, seg[1:])) if len(seg) > 1 else [seg] if seg else []
    out: list[str] = []
    first = bisect_left(starts, hit.end)
    for tok, _, _ in tokens[first:first + reach]:
        if not tok[0].isalnum():
            break
        out.append(stem(tok))
    return out


def markers(norm: str, hits: list[Hit], tokens: list[tuple[str, int, int]]) -> list[str]:
    """What the n-grams cannot see, for the own set's models (model.json `features: v2`): the words
    a negator governs ("not really very good" -> n:really, n:very, n:good; "不是很满意" -> n:满意),
    the words after a contrast ("good price but it broke" -> c:brok), and whether the message asks
    or exclaims (p:?, p:!). The negators and contrast words are the lexicon's."""
    out: set[str] = set()
    starts = [t[1] for t in tokens]
    for h in hits:
        for kind, _, _ in h.entries:
            if kind == NEG:
                out.update(["n:" + u for u in _after(norm, tokens, starts, h, NEG_REACH)])
            elif kind == CONTRAST:
                out.update(["c:" + u for u in _after(norm, tokens, starts, h, CONTRAST_REACH)])
    if asks(norm):  # normalised: the full-width marks are folded to "?"; one inside a web address asks nothing
        out.add("p:?")
    if "!" in norm:
        out.add("p:!")
    return sorted(out)


def marked_features(norm: str, hits: list[Hit], tokens: list[tuple[str, int, int]]) -> list[str]:
    """The own set's fields' input (model.json `features: v2`): the n-grams, then the markers."""
    return features(norm, tokens) + markers(norm, hits, tokens)


class LinearModel:
    """Multinomial logistic regression over binary features, scaled by 1/sqrt(#features)."""

    def __init__(self, classes: list[str], bias: list[float], weights: dict[str, list[float]]):
        self.classes = list(classes)
        self.bias = list(bias)
        self.per_class: list[dict[str, float]] = [
            {f: ws[i] for f, ws in weights.items() if ws[i]} for i in range(len(classes))]
        self._rows: dict[str, tuple[float, ...]] = {}
        self._training = False
        self._refresh()

    def _refresh(self) -> None:
        """Feature -> weights of every class, the layout `logits` reads fastest."""
        feats = set().union(*self.per_class)
        self._rows = {f: tuple(d.get(f, 0.0) for d in self.per_class) for f in feats}

    @classmethod
    def from_field(cls, lin: LinearField) -> "LinearModel":
        return cls(lin.classes, lin.bias, lin.weights)

    def to_field(self, min_weight: float = 0.0) -> LinearField:
        """The model as model.json holds it; features whose weights all stay below `min_weight`
        are left out (the corpora give hundreds of thousands of rare n-grams that decide nothing)."""
        feats = sorted(set().union(*self.per_class))
        weights = {f: [round(d.get(f, 0.0), 4) for d in self.per_class] for f in feats}
        weights = {f: ws for f, ws in weights.items() if any(ws) and max(map(abs, ws)) >= min_weight}
        return LinearField(classes=self.classes, bias=[round(b, 4) for b in self.bias], weights=weights)

    def logits(self, feats: list[str]) -> list[float]:
        if not feats:
            return list(self.bias)
        rows = self._rows
        vecs = [rows[f] for f in feats if f in rows]
        if not vecs:
            return list(self.bias)
        scale = 1.0 / math.sqrt(len(feats))
        return [b + scale * sum(col) for b, col in zip(self.bias, zip(*vecs))]

    def step(self, feats: list[str], label: str, lr: float, l2: float = 0.0) -> None:
        """One SGD step of cross-entropy towards `label` (training, and reviewer corrections)."""
        if not feats:
            return
        scale = 1.0 / math.sqrt(len(feats))
        # from the per-class weights as they are now: `logits` reads a layout rebuilt only after
        # training (reading it here trained every model against its bias alone)
        probs = softmax([b + scale * sum(d.get(f, 0.0) for f in feats) for b, d in zip(self.bias, self.per_class)])
        target = self.classes.index(label)
        for i, (p, d) in enumerate(zip(probs, self.per_class)):
            g = p - (1.0 if i == target else 0.0)
            self.bias[i] -= lr * g * 0.1
            if abs(g) < 1e-6:
                continue
            delta = lr * g * scale
            for f in feats:
                w = d.get(f, 0.0)
                d[f] = w - delta - lr * l2 * w
        if not self._training:
            self._refresh()

    @classmethod
    def train(cls, classes: list[str], data: list[tuple[list[str], str]], *, epochs: int = 40,
              lr: float = 0.5, l2: float = 1e-4, seed: int = 7,
              class_weight: dict[str, float] | None = None) -> "LinearModel":
        """SGD over `data`; `class_weight` scales the step of each example of a class (default 1)."""
        model = cls(classes, [0.0] * len(classes), {})
        model._training = True
        rng = random.Random(seed)
        order = list(range(len(data)))
        cw = class_weight or {}
        for epoch in range(epochs):
            rng.shuffle(order)
            rate = lr / (1 + epoch * 0.1)
            for j in order:
                feats, label = data[j]
                model.step(feats, label, rate * cw.get(label, 1.0), l2)
        model._training = False
        model._refresh()
        return model


class Polarity:
    """A two-class (negative, positive) model kept as one weight per feature: the difference of the
    two classes' weights, so a score is one dict lookup per feature and a 150,000-feature model
    holds ~18 MB instead of ~60 as per-class tuples."""

    __slots__ = ("bias", "weights")

    def __init__(self, lin: LinearField):
        neg, pos = lin.classes.index("negative"), lin.classes.index("positive")
        self.bias = lin.bias[pos] - lin.bias[neg]
        self.weights = {f: ws[pos] - ws[neg] for f, ws in lin.weights.items()}

    def score(self, feats: list[str], strongest: int = 3) -> tuple[float, list[tuple[float, str]]]:
        """tanh of half the logit difference, in [-1, 1] (P(positive) - P(negative)), and the
        `strongest` features that pushed it the way it went, with their weights (the evidence)."""
        # one lookup per n-gram: the table is large, and each lookup is mostly a cache miss
        found = [(v, f) for v, f in zip(map(self.weights.get, feats), feats) if v is not None]
        if not found:  # nothing it has read before ("xqzv blorf"): no lean, not the corpora's share of praise
            return 0.0, []
        total = self.bias + sum(map(_FIRST, found)) / math.sqrt(len(feats))
        # what heapq.nlargest / nsmallest return, without their overhead on a handful of n-grams
        return math.tanh(total / 2), sorted(found, key=_FIRST, reverse=total > 0)[:strongest]


def softmax(xs: list[float]) -> list[float]:
    m = max(xs)
    es = [math.exp(x - m) for x in xs]
    total = sum(es)
    return [e / total for e in es]


class JointLogits:
    """Several linear models over the same features, read in one pass (the hot path): one matrix,
    a row per feature and a column per class of every model. Summing a message's rows in numpy
    took half the time of summing tuples of Python floats, whose objects are scattered in memory."""

    def __init__(self, *models: LinearModel):
        self.models = models
        self.refresh()

    def refresh(self) -> None:
        """Rebuild after any model changed (a reviewer's correction)."""
        feats = sorted(set().union(*(m._rows for m in self.models)))
        self._index = {f: i for i, f in enumerate(feats)}
        widths = [len(m.classes) for m in self.models]
        blocks = []
        for m, width in zip(self.models, widths):
            zero = (0.0,) * width
            blocks.append(np.array([m._rows.get(f, zero) for f in feats], dtype=np.float64).reshape(len(feats), width))
        self._matrix = np.hstack(blocks)
        self._splits = [sum(widths[:k]) for k in range(len(widths) + 1)]

    def read(self, feats: list[str]) -> tuple[list[list[float]], float]:
        """The logits of every model, and the share of `feats` any of them knows (how much of the
        message is like what they were trained on)."""
        rows = [i for i in map(self._index.get, feats) if i is not None]
        if not rows:
            return [list(m.bias) for m in self.models], 0.0
        # rows are added in feature order, one after another (numpy reduces along the first axis
        # without pairwise blocking), so the sums are those of Python's left-to-right sum
        sums = (np.add.reduce(self._matrix.take(rows, 0)) / math.sqrt(len(feats))).tolist()
        cut = self._splits
        return ([[b + s for b, s in zip(m.bias, sums[cut[k]:cut[k + 1]])] for k, m in enumerate(self.models)],
                len(rows) / len(feats))
