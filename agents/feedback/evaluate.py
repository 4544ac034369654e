"""Labelled JSON lines + a Classifier -> accuracy per field, category macro-F1, critical recall."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

FIELDS = ("language", "category", "sentiment", "urgency")


def read_labelled(path: str | Path, split: str | None = None) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if split is None or r.get("split") == split]


def macro_f1(pairs: list[tuple[str, str]]) -> tuple[float, dict[str, float]]:
    labels = sorted({g for g, _ in pairs})
    per: dict[str, float] = {}
    for lab in labels:
        tp = sum(1 for g, p in pairs if g == lab and p == lab)
        fp = sum(1 for g, p in pairs if g != lab and p == lab)
        fn = sum(1 for g, p in pairs if g == lab and p != lab)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        per[lab] = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return (sum(per.values()) / len(per) if per else 0.0), per


def classify_all(clf: Any, rows: list[dict[str, Any]]) -> list[Any]:
    """Each labelled row classified as the worker would (its `rating` passed when present)."""
    return [clf.classify(r["text"], rating=r.get("rating")) for r in rows]


def evaluate(clf: Any, rows: Iterable[dict[str, Any]], preds: list[Any] | None = None) -> dict[str, Any]:
    """Figures for a labelled set (the `rating` field is passed to the classifier when present)."""
    rows = list(rows)
    preds = classify_all(clf, rows) if preds is None else preds
    report: dict[str, Any] = {"n": len(rows)}
    for f in FIELDS:
        report[f"{f}_accuracy"] = round(sum(getattr(p, f) == r[f] for p, r in zip(preds, rows)) / len(rows), 4)
    f1, per = macro_f1([(r["category"], p.category) for p, r in zip(preds, rows)])
    report["category_macro_f1"] = round(f1, 4)
    report["category_f1"] = {k: round(v, 3) for k, v in per.items()}
    crit = [(r, p) for p, r in zip(preds, rows) if r["urgency"] == "critical"]
    report["critical_recall"] = round(sum(p.urgency == "critical" for _, p in crit) / len(crit), 4) if crit else None
    flagged = [(r, p) for p, r in zip(preds, rows) if p.urgency == "critical"]
    report["critical_precision"] = (round(sum(r["urgency"] == "critical" for r, _ in flagged) / len(flagged), 4)
                                    if flagged else None)
    for lang in ("en", "zh"):
        polar = [(r, p) for p, r in zip(preds, rows) if r["language"] == lang and r["sentiment"] != "neutral"]
        if polar:
            # clearly positive vs clearly negative: is the sign right?
            ok = sum((p.sentiment_score > 0) == (r["sentiment"] == "positive") for r, p in polar)
            report[f"posneg_accuracy_{lang}"] = round(ok / len(polar), 4)
    report["needs_review_share"] = round(sum(p.needs_review for p in preds) / len(rows), 4)
    report["errors"] = [
        {"text": r["text"], **{f: [r[f], getattr(p, f)] for f in FIELDS if getattr(p, f) != r[f]}}
        for p, r in zip(preds, rows) if any(getattr(p, f) != r[f] for f in FIELDS)
    ]
    return report


def confusion(pairs: list[tuple[str, str]], labels: tuple[str, ...]) -> list[list[int]]:
    """Rows: the true label, columns: the predicted one, in `labels` order."""
    index = {lab: i for i, lab in enumerate(labels)}
    m = [[0] * len(labels) for _ in labels]
    for g, p in pairs:
        if g in index and p in index:
            m[index[g]][index[p]] += 1
    return m


def calibration_error(conf_hits: list[tuple[float, bool]], bins: int = 10) -> float:
    """Expected calibration error: the share-weighted gap between stated confidence and accuracy per bin."""
    if not conf_hits:
        return 0.0
    total = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        cell = [(c, ok) for c, ok in conf_hits if lo <= c < hi or (b == bins - 1 and c == 1.0)]
        if cell:
            total += len(cell) * abs(sum(c for c, _ in cell) / len(cell) - sum(ok for _, ok in cell) / len(cell))
    return total / len(conf_hits)


def field_report(rows: list[dict[str, Any]], preds: list[Any]) -> dict[str, Any]:
    """Per language and field: accuracy, macro-F1, confusion matrix and calibration of the confidence."""
    from schemas.feedback import CATEGORIES, SENTIMENTS, URGENCIES

    labels = {"category": CATEGORIES, "sentiment": SENTIMENTS, "urgency": URGENCIES}
    out: dict[str, Any] = {}
    for lang in ("en", "zh", "all"):
        sel = [(r, p) for r, p in zip(rows, preds) if lang == "all" or r["language"] == lang]
        if not sel:
            continue
        per: dict[str, Any] = {"n": len(sel)}
        for f, labs in labels.items():
            pairs = [(r[f], getattr(p, f)) for r, p in sel]
            f1, _ = macro_f1(pairs)
            hits = [(p.confidence[f], r[f] == getattr(p, f)) for r, p in sel]
            per[f] = {"accuracy": round(sum(g == q for g, q in pairs) / len(pairs), 4), "macro_f1": round(f1, 4),
                      "ece": round(calibration_error(hits), 4), "labels": list(labs),
                      "confusion": confusion(pairs, labs)}
        out[lang] = per
    return out


def speed(clf: Any, texts: list[str], seconds: float = 2.0) -> float:
    """Messages per second classified on this core (one thread), over at least `seconds`."""
    import time

    n, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for t in texts:
            clf.classify(t)
        n += len(texts)
    return n / (time.perf_counter() - started)


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
    """python -m agents.feedback.evaluate [--config DIR] [--data FILE] [--split test] [--corpora DIR] [--json]"""
    import argparse

    from agents.feedback.classifier import Classifier
    from agents.feedback.datasets import CORPORA, DATA, corpus_rows

    ap = argparse.ArgumentParser(prog="python -m agents.feedback.evaluate",
                                 description="figures of the classifier on held-out data")
    ap.add_argument("--config", type=Path, default=None, help="classifier config folder (default: the packaged one)")
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--split", default="test")
    ap.add_argument("--corpora", type=Path, default=CORPORA, help="public corpora folder: their held-out tenth too")
    ap.add_argument("--json", action="store_true", help="one JSON document instead of tables")
    args = ap.parse_args(argv)
    clf = Classifier.from_config(args.config)
    rows = read_labelled(args.data, args.split)
    preds = classify_all(clf, rows)
    report: dict[str, Any] = {"own_set": {"file": str(args.data), "split": args.split, **field_report(rows, preds)}}
    summary = evaluate(clf, rows, preds)
    report["critical"] = {"recall": summary["critical_recall"], "precision": summary["critical_precision"]}
    report["needs_review_share"] = summary["needs_review_share"]
    if args.corpora.is_dir():
        report["corpora_test"] = polarity_report(clf, {lang: s["test"] for lang, s in corpus_rows(args.corpora).items()})
    report["messages_per_second"] = round(speed(clf, [r["text"] for r in rows]))
    if args.json:
        print(json.dumps(report, indent=1, ensure_ascii=False))
        return 0
    for lang, per in report["own_set"].items():
        if not isinstance(per, dict):
            continue
        print(f"\n== own set, {args.split} split, {lang} (n={per['n']})")
        for f in ("category", "sentiment", "urgency"):
            d = per[f]
            print(f"{f:10s} accuracy {d['accuracy']:.3f}  macro-F1 {d['macro_f1']:.3f}  ECE {d['ece']:.3f}")
        d = per["category"]
        width = max(map(len, d["labels"]))
        print("category confusion (rows: true, columns: predicted, in this order):")
        for lab, row in zip(d["labels"], d["confusion"]):
            print(f"  {lab:{width}s} " + " ".join(f"{v:4d}" for v in row))
    print(f"\ncritical recall {report['critical']['recall']}  precision {report['critical']['precision']}")
    print(f"needs_review share {report['needs_review_share']}")
    for lang, d in report.get("corpora_test", {}).items():
        print(f"corpora test {lang}: binary accuracy {d['binary_accuracy']:.3f} (n={d['n']}), "
              f"neutral {d['neutral_share']:.3f}")
    print(f"speed: {report['messages_per_second']} messages/s on one core")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
