"""Aspects: each category a message touches, with the sentiment of the clause that touches it."""

from __future__ import annotations

import pytest

from agents.feedback.classifier import Classifier
from agents.feedback.text import clause_bounds, fold_table, normalise


@pytest.fixture(scope="module")
def clf():
    return Classifier.default()


def _aspects(clf, text):
    return [(a["category"], a["sentiment"]) for a in clf.classify(text).aspects]


@pytest.mark.parametrize("text, expected", [
    ("delivery was late but the kettle is great", [("delivery", "negative"), ("product_quality", "positive")]),
    ("物流太慢了，但是水壶质量很好", [("delivery", "negative"), ("product_quality", "positive")]),
    ("物流太慢了，但是水壺質量很好", [("delivery", "negative"), ("product_quality", "positive")]),  # traditional
    ("Great price, but the customer service was rude!", [("pricing", "positive"), ("service", "negative")]),
    ("送货很快，客服态度不好", [("delivery", "positive"), ("service", "negative")]),
    ("the delivery was not fast, the quality is not good", [("delivery", "negative"), ("product_quality", "negative")]),
    ("客服不错，但是质量不好", [("service", "positive"), ("product_quality", "negative")]),
    ("I made an order", []),                      # a weak hint names no topic
    ("I love it", []),                            # one feeling, no topic: the category says it all
    ("delivery was fast, thanks!", [("delivery", "positive")]),   # "thanks" is not about the product
])
def test_aspects(clf, text, expected):
    assert _aspects(clf, text) == expected


def test_one_aspect_per_category_the_strongest_in_text_order(clf):
    got = clf.classify("The delivery was ok. The delivery was terribly slow and awful, but the price is fine").aspects
    assert [(a["category"], a["sentiment"]) for a in got] == [("delivery", "negative"), ("pricing", "positive")]
    text = "The delivery was ok. The delivery was terribly slow and awful, but the price is fine"
    for a in got:
        assert text[a["start"]:a["end"]] == a["term"]
    assert got[0]["start"] > text.index(".")   # the second, stronger clause's term


def test_clauses_keep_numbers_whole():
    norm = normalise("It costs $19.99, 1,000 sold, but 但是不但好")
    parts = [norm[a:b] for a, b in clause_bounds(norm)]
    assert parts == ["it costs $19.99", " 1,000 sold", " ", " ", "不但好"]


def test_ascii_text_is_already_normal():
    """normalise returns lower-cased ASCII text without folding it: the fold table must map no ASCII
    character, or that shortcut would skip a fold."""
    assert not [chr(c) for c in fold_table() if c < 128]
    assert normalise("Refund NOW, 20% off!") == "refund now, 20% off!"
    assert normalise("ＲＥＦＵＮＤ，退貨") == "refund,退货"
