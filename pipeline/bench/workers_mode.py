"""Workers mode: two workers in a fresh consumer group against the one-worker pipeline run."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.bench.cpu import vm_hwm_kb
from pipeline.bench.figures import mib, written_rate
from pipeline.bench.whole_pipeline import drain
from pipeline.bench.worker import Worker

if TYPE_CHECKING:
    from pipeline.bench.runner import BenchConfig


def scaling(broker_url: str, flavour: str, prefix: str, cfg: BenchConfig, tmp: Path, one_worker: dict,
            progress: Callable[[str], None], in_topics: int | None = None) -> dict:
    """Two workers in a fresh consumer group (and database) on the same preloaded topics,
    against the one-worker pipeline run (same topics, same settings). The second worker
    starts once the first is ready (they share the SQLite file and its migration), and the
    rate is taken from the moment both are consuming."""
    progress("scaling: 2 workers")
    run_dir = tmp / "scale-2"
    run_dir.mkdir()
    db_url = cfg.database or f"sqlite+aiosqlite:///{run_dir}/pipeline.db"
    app_id = f"scale2-{uuid.uuid4().hex[:6]}"
    workers = [Worker(broker_url, flavour, db_url, app_id, prefix, run_dir, name=f"w{i + 1}", extra_env=cfg.worker_env)
               for i in range(2)]
    try:
        for w in workers:
            w.start().wait_ready()
        # until everything on the topics is consumed: "written" waits for nothing pending, so a drain
        # that stopped at the preload's count would wait for the latency phase's events too (two
        # workers' rate until written: 1,325-1,772 ev/s against 3,620 draining everything)
        two = drain(workers, in_topics or cfg.events, progress=progress, stall_s=10)
        two["peak_rss_mb"] = [mib(vm_hwm_kb(w.proc.pid)) for w in workers]
    finally:
        for w in workers:
            w.stop()
    progress(f"    {two['ev_per_s']} ev/s")
    return {"one_worker": one_worker, "two_workers": two,
            "one_worker_ev_per_s": written_rate(one_worker), "two_workers_ev_per_s": written_rate(two)}
