"""Where the classifier's training and evaluation data live: the own labelled set, and the public
corpora (read from a git-ignored folder, never committed; see config/classifier/MODEL_CARD.md)."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from pipeline.errors import UserInputError

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "feedback_labelled.jsonl"
CORPORA = ROOT / "data" / "corpora"


def held_out(text: str) -> bool:
    """One tenth of each corpus, by a hash of the text: never trained on, reported as its test split."""
    return hashlib.sha1(text.encode("utf-8")).digest()[0] < 26


def corpus_rows(corpora_dir: Path) -> dict[str, dict[str, list[tuple[str, str]]]]:
    """language -> {"train": [(text, label)], "test": [...]} over every corpus present in the folder."""
    from agents.feedback import corpora

    out: dict[str, dict[str, list[tuple[str, str]]]] = {}
    seen: set[str] = set()  # the hotel reviews are in two corpora: each text once (and in one split)
    for spec in corpora.CORPORA:
        try:
            rows = corpora.load(spec.name, corpora_dir)  # hashes the file once, then reads it
        except UserInputError as exc:  # missing or other bytes: said, and trained without it
            print(f"{exc}; left out", file=sys.stderr)
            continue
        split = out.setdefault(spec.language, {"train": [], "test": []})
        kept = 0
        for text, label in rows:
            if text not in seen:
                seen.add(text)
                split["test" if held_out(text) else "train"].append((text, label))
                kept += 1
        print(f"corpus {spec.name}: {len(rows)} rows, {kept} not seen before", file=sys.stderr)
    return out
