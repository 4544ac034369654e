"""The own labelled set (train split) + public review corpora -> config/classifier/model.json, plus a report.

    python -m agents.feedback.train                          # train, write model.json, report on the test splits
    python -m agents.feedback.train --corpora data/corpora   # the corpora's folder (git-ignored; default data/corpora)
    python -m agents.feedback.train --check                  # report only, with the model already in config/

Fields: `category`, `sentiment` (3 classes) and `urgency` from the own set
(tests/data/feedback_labelled.jsonl); `polarity_en` and `polarity_zh` (negative / positive) from the
corpora listed in config/classifier/MODEL_CARD.md plus the own set's polar messages. A corpus that is
not in the folder is left out (said on stderr) and the model card's figures no longer hold; CI trains
nothing and uses the committed model.

Reproducible: fixed seeds, files read in order, features and weights written sorted and rounded,
so the same data gives the same file (its sha256 is printed).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

from agents.feedback.config import CATEGORIES, POLARITY, SENTIMENTS, ModelFile, default_dir
from agents.feedback.evaluate import evaluate, read_labelled
from agents.feedback.model import LinearModel, features
from agents.feedback.text import normalise
from schemas.feedback import URGENCIES

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "feedback_labelled.jsonl"
CORPORA = ROOT / "data" / "corpora"
OWN_POLAR_REPEAT = 3     # the own set's polar messages count this many times among the corpora's
CORPUS_EPOCHS = 4        # passes over the corpora (tens of thousands of reviews: more adds little)
OWN_EPOCHS = 40
MIN_WEIGHT = 0.02        # polarity n-grams weaker than this in both classes are left out of the file


def held_out(text: str) -> bool:
    """One tenth of each corpus, by a hash of the text: never trained on, reported as its test split."""
    return hashlib.sha1(text.encode("utf-8")).digest()[0] < 26


def corpus_rows(corpora_dir: Path) -> dict[str, dict[str, list[tuple[str, str]]]]:
    """language -> {"train": [(text, label)], "test": [...]} over every corpus present in the folder."""
    from agents.feedback import corpora

    out: dict[str, dict[str, list[tuple[str, str]]]] = {}
    for spec in corpora.REGISTRY:
        if spec.name not in corpora.available(corpora_dir):
            print(f"corpus {spec.name}: not in {corpora_dir}, left out", file=sys.stderr)
            continue
        rows = corpora.load(spec.name, corpora_dir)
        split = out.setdefault(spec.language, {"train": [], "test": []})
        for text, label in rows:
            split["test" if held_out(text) else "train"].append((text, label))
        print(f"corpus {spec.name}: {len(rows)} rows", file=sys.stderr)
    return out


def train(rows: list[dict], corpora_dir: Path | None = None) -> tuple[ModelFile, dict]:
    feats = [features(normalise(r["text"])) for r in rows]
    fields = {}
    for field, classes in (("category", CATEGORIES), ("sentiment", SENTIMENTS), ("urgency", URGENCIES)):
        model = LinearModel.train(list(classes), [(f, r[field]) for f, r in zip(feats, rows)], epochs=OWN_EPOCHS)
        fields[field] = model.to_field()
    trained_on: dict = {"own": {"file": DATA.name, "split": "train", "rows": len(rows)}, "corpora": {}}
    held: dict = {}
    if corpora_dir is not None and corpora_dir.is_dir():
        for lang, split in sorted(corpus_rows(corpora_dir).items()):
            own = [(f, r["sentiment"]) for f, r in zip(feats, rows)
                   if r["language"] == lang and r["sentiment"] in POLARITY] * OWN_POLAR_REPEAT
            data = [(features(normalise(t)), y) for t, y in split["train"]] + own
            started = time.perf_counter()
            model = LinearModel.train(list(POLARITY), data, epochs=CORPUS_EPOCHS, lr=0.5, l2=1e-6)
            print(f"polarity_{lang}: {len(data)} rows in {time.perf_counter() - started:.0f} s", file=sys.stderr)
            fields[f"polarity_{lang}"] = model.to_field(MIN_WEIGHT)
            trained_on["corpora"][lang] = {"train_rows": len(split["train"]), "own_rows": len(own)}
            held[lang] = split["test"]
    return ModelFile(version=1, features="v1", fields=fields, trained_on=trained_on), held


def polarity_report(clf, held: dict[str, list[tuple[str, str]]]) -> dict:
    """Binary accuracy (is the sign right?) and the share answered neutral, on each corpus test split."""
    out = {}
    for lang, rows in sorted(held.items()):
        preds = [clf.classify(t) for t, _ in rows]
        ok = sum((p.sentiment_score > 0) == (y == "positive") for p, (_, y) in zip(preds, rows))
        out[lang] = {"n": len(rows), "binary_accuracy": round(ok / len(rows), 4),
                     "neutral_share": round(sum(p.sentiment == "neutral" for p in preds) / len(rows), 4)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--corpora", type=Path, default=CORPORA, help="folder of the public corpora (git-ignored)")
    ap.add_argument("--out", type=Path, default=default_dir() / "model.json")
    ap.add_argument("--check", action="store_true", help="do not train; evaluate the model in place")
    ap.add_argument("--errors", action="store_true", help="also print the misclassified messages")
    ap.add_argument("--split", default="test", help="split to report on (tune on train, report test)")
    args = ap.parse_args(argv)
    held: dict = {}
    if not args.check:
        model, held = train(read_labelled(args.data, "train"), args.corpora)
        text = json.dumps(model.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        args.out.write_text(text + "\n", encoding="utf-8")
        digest = hashlib.sha256((text + "\n").encode("utf-8")).hexdigest()
        print(f"wrote {args.out} ({len(text) / 1024:.0f} KiB, sha256 {digest})", file=sys.stderr)
    from agents.feedback.classifier import Classifier

    clf = Classifier.from_config(args.out.parent)
    report = evaluate(clf, read_labelled(args.data, args.split))
    errors = report.pop("errors")
    if held:
        report["corpora_test"] = polarity_report(clf, held)
    print(json.dumps(report, indent=1, ensure_ascii=False))
    if args.errors:
        for e in errors:
            print(json.dumps(e, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
