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


def evaluate(clf: Any, rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Figures for a labelled set (the `rating` field is passed to the classifier when present)."""
    rows = list(rows)
    preds = [clf.classify(r["text"], rating=r.get("rating")) for r in rows]
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
