"""competitors.find and the config/competitors.yaml loader: names, aliases, scripts, cues, refusals."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agents.feedback.classifier import Classifier
from agents.feedback.competitors import find, load_competitors
from agents.feedback.config import default_dir
from pipeline.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def cfg():
    return load_competitors(ROOT / "config" / "competitors.yaml")


def _found(text, cfg):
    return [(m["competitor"], m["compared"], m["term"]) for m in find(text, cfg)]


@pytest.mark.parametrize("text, expected", [
    ("It's 20% cheaper at ShopFast", [("shopfast", "price", "ShopFast")]),
    ("shopfast sells it 20% cheaper", [("shopfast", "price", "shopfast")]),
    ("MegaMart delivers next day", [("megamart", "delivery", "MegaMart")]),
    ("Switching to Amazon.", [("amazon", "general", "Amazon")]),
    ("I saw it on Amazon", [("amazon", "general", "Amazon")]),
    ("Quick Buy has far better customer service", [("quickbuy", "service", "Quick Buy")]),
    ("ValueHub's are better quality", [("valuehub", "quality", "ValueHub")]),
    ("京东比你们便宜多了", [("jd", "price", "京东")]),
    ("淘寶價格更低", [("taobao", "price", "淘寶")]),               # traditional script
    ("拼多多比你们快", [("pinduoduo", "delivery", "拼多多")]),
    ("我要换成快买网了", [("shopfast", "general", "快买网")]),
    ("以后去京东买", [("jd", "general", "京东")]),
    ("I love amazonian frogs", []),                            # word boundaries for Latin names
    ("the kettle broke after a week", []),
])
def test_find(cfg, text, expected):
    assert _found(text, cfg) == expected


def test_two_competitors_each_with_its_own_clause(cfg):
    text = "MegaMart has better customer service but QuickBuy is cheaper"
    assert _found(text, cfg) == [("megamart", "service", "MegaMart"), ("quickbuy", "price", "QuickBuy")]
    for m in find(text, cfg):
        assert text[m["start"]:m["end"]] == m["term"]


def test_cue_in_another_clause_does_not_count(cfg):
    assert _found("The price went up. I'm at ShopFast now", cfg) == [("shopfast", "general", "ShopFast")]
    assert _found("JD也有，但是价格太贵", cfg) == [("jd", "general", "JD")]


def test_once_per_competitor_and_comparison(cfg):
    assert _found("ShopFast is cheaper, ShopFast is cheaper, ShopFast ships faster", cfg) == [
        ("shopfast", "price", "ShopFast"), ("shopfast", "delivery", "ShopFast")]


def test_negated_comparison_still_names_what_was_compared(cfg):
    # "not cheaper" is still a comparison on price; how the customer feels is the aspects' business
    assert _found("JD is not cheaper", cfg) == [("jd", "price", "JD")]


def _write(tmp_path, body: str) -> Path:
    p = tmp_path / "competitors.yaml"
    p.write_text(body, encoding="utf-8")
    return p


@pytest.mark.parametrize("body, message", [
    ("version: 1\ncompetitors:\n  - id: ShopFast\n    name: ShopFast\n", "competitors.yaml:3: competitors.1.id"),
    ("version: 1\ncompetitors:\n  - {id: a, name: A}\n  - {id: a, name: B}\n", "competitors.2.id: 'a' is also competitor 1"),
    ("version: 1\ncompetitors:\n  - {id: a, name: A}\n  - {id: b, name: B, aliases: {en: [a]}}\n",
     "competitors.2.aliases: 'a' is also an alias of 'a'"),
    ("version: 1\ncomparisons:\n  cost:\n    en: [cheaper]\n", "comparisons.cost"),
    ("version: 1\ncomparisons:\n  price:\n    zh: [比...便宜...多]\n", "comparisons.price.zh.1"),
    ("version: 2\n", "version"),
    ("version: 1\ncompetitors: [\n", "invalid YAML"),
])
def test_a_bad_file_is_refused_with_one_line(tmp_path, body, message):
    with pytest.raises(ConfigError) as exc:
        load_competitors(_write(tmp_path, body))
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_the_classifier_reads_competitors_beside_its_directory(tmp_path):
    shutil.copytree(default_dir(), tmp_path / "classifier")
    assert Classifier.from_config(tmp_path / "classifier").classify("cheaper at ShopFast").competitors == ()
    _write(tmp_path, "version: 1\ncompetitors:\n  - {id: shopfast, name: ShopFast}\n"
                     "comparisons:\n  price: {en: [cheaper]}\n")
    got = Classifier.from_config(tmp_path / "classifier").classify("cheaper at ShopFast").competitors
    assert [(m["competitor"], m["compared"]) for m in got] == [("shopfast", "price")]
    _write(tmp_path, "version: 1\ncompetitors:\n  - {id: Shop Fast, name: ShopFast}\n")
    with pytest.raises(ConfigError, match="competitors.yaml:3: competitors.1.id"):
        Classifier.from_config(tmp_path / "classifier")
