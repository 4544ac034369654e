"""Check labelled JSON-lines files: every line parses, labels are in the allowed sets, no duplicate texts
(within the files and against tests/data/feedback_labelled.jsonl); print the counts per field.

    python tests/data/labelled/validate_labelled.py FILE ...    # new batches, also against the main file
    python tests/data/labelled/validate_labelled.py             # the main file on its own (batches merged)
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
BASE = HERE.parent / "feedback_labelled.jsonl"

ALLOWED = {
    "language": {"en", "zh", "other"},
    "category": {"product_quality", "pricing", "delivery", "service", "after_sales", "suggestion",
                 "product_safety", "fraud_security", "legal", "other"},
    "sentiment": {"positive", "neutral", "negative"},
    "urgency": {"critical", "high", "normal", "low"},
    "script": {"latin", "simplified", "traditional", "other"},
    "split": {"train", "test"},
}
REQUIRED = ("text", "language", "category", "sentiment", "urgency", "script", "split")
OPTIONAL = {"rating"}
CRITICAL_CLASSES = {"product_safety", "fraud_security", "legal"}


def key(text: str) -> str:
    """Duplicate key: case, width, punctuation and spacing ignored."""
    t = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"[\W_]+", " ", t).strip()


def check(paths: list[Path]) -> int:
    errors: list[str] = []
    seen: dict[str, str] = {}
    for line_no, line in enumerate(BASE.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip() and paths != [BASE]:
            seen.setdefault(key(json.loads(line)["text"]), f"{BASE.name}:{line_no}")
    rows = []
    for path in paths:
        for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            where = f"{path.name}:{line_no}"
            if not line.strip():
                errors.append(f"{where}: empty line")
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                errors.append(f"{where}: not JSON ({exc})")
                continue
            missing = [f for f in REQUIRED if f not in row]
            extra = set(row) - set(REQUIRED) - OPTIONAL
            if missing or extra:
                errors.append(f"{where}: missing {missing} extra {sorted(extra)}")
                continue
            if not isinstance(row["text"], str) or not row["text"].strip():
                errors.append(f"{where}: empty text")
            for field, allowed in ALLOWED.items():
                if row[field] not in allowed:
                    errors.append(f"{where}: {field}={row[field]!r} not allowed")
            if "rating" in row and row["rating"] not in (1, 2, 3, 4, 5):
                errors.append(f"{where}: rating={row['rating']!r}")
            k = key(row["text"])
            if k in seen:
                errors.append(f"{where}: duplicate of {seen[k]}: {row['text'][:60]!r}")
            else:
                seen[k] = where
            rows.append(row)

    n = len(rows)
    print(f"rows: {n}  (with rating: {sum('rating' in r for r in rows)})")
    for field in ("category", "sentiment", "urgency", "split", "language"):
        c = Counter(r[field] for r in rows)
        print(f"\n{field}:")
        for lab, cnt in sorted(c.items(), key=lambda kv: -kv[1]):
            print(f"  {lab:16} {cnt:4}  {100 * cnt / n:5.1f}%")
    print("\ncategory x (sentiment | urgency | split):")
    cats = sorted({r["category"] for r in rows})
    cols = ["positive", "neutral", "negative", "critical", "high", "normal", "low", "train", "test"]
    print(f"  {'category':16} " + " ".join(f"{c[:5]:>5}" for c in cols) + "  total")
    for cat in cats:
        sub = [r for r in rows if r["category"] == cat]
        cnt = Counter()
        for r in sub:
            cnt[r["sentiment"]] += 1
            cnt[r["urgency"]] += 1
            cnt[r["split"]] += 1
        print(f"  {cat:16} " + " ".join(f"{cnt[c]:5}" for c in cols) + f"  {len(sub):5}")
    for cat in CRITICAL_CLASSES:
        sub = [r for r in rows if r["category"] == cat]
        if sub and sum(r["urgency"] == "critical" for r in sub) < len(sub) / 2:
            errors.append(f"{cat}: fewer than half of the rows are critical")
    if errors:
        print(f"\n{len(errors)} problem(s):", file=sys.stderr)
        for e in errors:
            print("  " + e, file=sys.stderr)
        return 1
    print("\nOK: all lines parse, labels allowed, no duplicate texts (also vs feedback_labelled.jsonl)")
    return 0


if __name__ == "__main__":
    args = [Path(a) for a in sys.argv[1:]] or [BASE]
    sys.exit(check(args))
