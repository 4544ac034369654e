"""Training is reproducible, calibration is monotone, corpora keep a fixed held-out tenth."""

from __future__ import annotations

import hashlib
import random

from agents.feedback.evaluate import calibration_error, confusion, read_labelled
from agents.feedback.datasets import DATA, held_out
from agents.feedback.config import LinearField
from agents.feedback.train import monotone_bins, strongest, train


def test_the_same_rows_give_the_same_model_file():
    rows = read_labelled(DATA, "train")[:160]
    first, _ = train(rows, None)
    second, _ = train(rows, None)
    digest = [hashlib.sha256(m.model_dump_json().encode()).hexdigest() for m in (first, second)]
    assert digest[0] == digest[1]
    assert set(first.fields) == {"category", "sentiment", "urgency"}  # no corpora: no polarity fields
    assert set(first.calibration) == {"category", "sentiment", "urgency"}


def test_calibration_bins_are_monotone_and_follow_the_accuracy():
    rng = random.Random(3)
    # a classifier whose confidence overstates: right with probability conf / 2 + 0.3
    hits = [(c, rng.random() < c / 2 + 0.3) for c in (rng.random() for _ in range(5000))]
    bins = monotone_bins(hits)
    assert len(bins) == 10 and all(a <= b for a, b in zip(bins, bins[1:]))
    assert abs(bins[9] - 0.775) < 0.05 and abs(bins[0] - 0.325) < 0.05
    assert calibration_error(hits) > 0.1  # stated confidence was off before the map
    mapped = [(bins[min(9, int(c * 10))], ok) for c, ok in hits]
    assert calibration_error(mapped) < 0.03


def test_an_empty_bin_takes_its_neighbour():
    bins = monotone_bins([(0.95, True), (0.92, True), (0.15, False), (0.55, True), (0.58, False)])
    assert bins[0] == bins[1] == 0.0 and bins[5] == 0.5 and bins[9] == 1.0 and bins[7] == 0.5


def test_held_out_is_a_fixed_tenth():
    texts = [f"review number {i}" for i in range(20000)]
    share = sum(map(held_out, texts)) / len(texts)
    assert 0.08 < share < 0.12
    assert [held_out(t) for t in texts[:50]] == [held_out(t) for t in texts[:50]]


def test_confusion_counts_rows_true_columns_predicted():
    assert confusion([("a", "a"), ("a", "b"), ("b", "b")], ("a", "b")) == [[1, 1], [0, 1]]


def test_a_polarity_field_keeps_its_strongest_ngrams():
    field = LinearField(classes=["negative", "positive"], bias=[0.0, 0.0],
                        weights={"w:meh": [0.1, -0.1], "w:great": [-1.0, 2.0], "w:awful": [1.5, -1.5],
                                 "w:tie_b": [0.0, 0.5], "w:tie_a": [-0.25, 0.25]})
    kept = strongest(field, 3)
    assert list(kept.weights) == ["w:awful", "w:great", "w:tie_a"]  # |diff| 3, 3, then the tie by name
    assert kept.weights["w:great"] == [-1.0, 2.0] and kept.classes == field.classes
    assert strongest(field, 10).weights == dict(sorted(field.weights.items()))
