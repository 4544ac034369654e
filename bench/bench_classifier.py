"""Classifier throughput on one core: the labelled set, repeated, classified in a loop; prints JSON.

    python bench/bench_classifier.py [--repeat 20] [--min-rate 5000]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agents.feedback.classifier import Classifier  # noqa: E402
from agents.feedback.evaluate import read_labelled  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=20, help="passes over the labelled set")
    ap.add_argument("--min-rate", type=float, default=0.0, help="exit 1 when the median msg/s falls below this")
    ap.add_argument("--pin", action="store_true", help="pin the process to the first allowed core")
    args = ap.parse_args(argv)
    if args.pin and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    t0 = time.perf_counter()
    clf = Classifier.from_config()
    load_s = time.perf_counter() - t0
    rows = read_labelled(ROOT / "tests" / "data" / "feedback_labelled.jsonl")
    msgs = [(r["text"], r.get("rating")) for r in rows]
    for text, rating in msgs:  # warm caches (stemmer, first-use imports)
        clf.classify(text, rating=rating)
    # The lexicon and model are ~40k long-lived objects; a worker freezes them out of the cyclic
    # GC's sight after start-up (as the feedback agent should), so the bench does too.
    gc.freeze()
    # The classifier is single-threaded: it runs on one core. Each pass over the set is timed on
    # its own; CPU time is what that core spent, wall time also counts waiting on a busy machine.
    cpu_rates, wall_rates = [], []
    for _ in range(args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        for text, rating in msgs:
            clf.classify(text, rating=rating)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        cpu_rates.append(len(msgs) / cpu)
        wall_rates.append(len(msgs) / wall)
    rate = statistics.median(cpu_rates)
    print(json.dumps({
        "messages": len(msgs) * args.repeat, "passes": args.repeat,
        "msg_per_s": round(rate), "msg_per_s_best": round(max(cpu_rates)), "msg_per_s_worst": round(min(cpu_rates)),
        "msg_per_s_wall_median": round(statistics.median(wall_rates)), "us_per_msg": round(1e6 / rate, 1),
        "mean_chars": round(sum(len(t) for t, _ in msgs) / len(msgs), 1), "config_load_s": round(load_s, 3),
        "cores": 1, "python": platform.python_version(), "machine": platform.machine(),
    }))
    return 1 if rate < args.min_rate else 0


if __name__ == "__main__":
    sys.exit(main())
