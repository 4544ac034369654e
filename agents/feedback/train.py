"""tests/data/feedback_labelled.jsonl (train split) -> config/classifier/model.json, plus a report.

    python -m agents.feedback.train            # train on the train split, write model.json, report on test
    python -m agents.feedback.train --check    # report only, with the model already in config/
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from agents.feedback.config import CATEGORIES, SENTIMENTS, ModelFile, default_dir
from agents.feedback.evaluate import evaluate, read_labelled
from agents.feedback.model import LinearModel, features
from agents.feedback.text import normalise

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "feedback_labelled.jsonl"


def train(rows: list[dict]) -> ModelFile:
    feats = [features(normalise(r["text"])) for r in rows]
    fields = {}
    for field, classes in (("category", CATEGORIES), ("sentiment", SENTIMENTS)):
        model = LinearModel.train(list(classes), [(f, r[field]) for f, r in zip(feats, rows)])
        fields[field] = model.to_field()
    return ModelFile(version=1, features="v1", fields=fields,
                     trained_on={"file": DATA.name, "split": "train", "rows": len(rows)})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--out", type=Path, default=default_dir() / "model.json")
    ap.add_argument("--check", action="store_true", help="do not train; evaluate the model in place")
    ap.add_argument("--errors", action="store_true", help="also print the misclassified messages")
    ap.add_argument("--split", default="test", help="split to report on (tune on train, report test)")
    args = ap.parse_args(argv)
    if not args.check:
        model = train(read_labelled(args.data, "train"))
        text = json.dumps(model.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        args.out.write_text(text + "\n", encoding="utf-8")
        print(f"wrote {args.out} ({len(text) / 1024:.0f} KiB)", file=sys.stderr)
    from agents.feedback.classifier import Classifier

    clf = Classifier.from_config(args.out.parent)
    report = evaluate(clf, read_labelled(args.data, args.split))
    errors = report.pop("errors")
    print(json.dumps(report, indent=1, ensure_ascii=False))
    if args.errors:
        for e in errors:
            print(json.dumps(e, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
