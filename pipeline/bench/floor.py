"""Phase 2, the framework floor: a faust worker with one no-op agent per input topic, with our
settings or faust's defaults, run as `python -m pipeline.bench floor ...`."""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from pathlib import Path

from pipeline import topics as T
from pipeline.bench.cpu import vm_hwm_kb
from pipeline.bench.figures import mib, rate, rounded
from pipeline.bench.process import REPO_ROOT, log_tail, spawn, stop_process


def floor_main(argv: list[str]) -> None:
    """A worker with one no-op agent per input topic; writes its figures to --out at N events."""
    import argparse

    import faust

    ap = argparse.ArgumentParser(prog="python -m pipeline.bench floor")
    ap.add_argument("--broker", required=True)
    ap.add_argument("--flavour", required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--events", type=int, required=True)
    ap.add_argument("--mode", choices=["ours", "default"], required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--web-port", type=int, required=True)
    ap.add_argument("--event-loop", choices=["uvloop", "asyncio"], default="uvloop")
    args = ap.parse_args(argv)
    app_id = f"floor-{args.mode}-{uuid.uuid4().hex[:6]}"
    if args.mode == "ours":
        from pipeline.app import SalesPulseApp, faust_kwargs, set_fetch_waits
        from pipeline.settings import KafkaSettings, Settings, WebSettings, WorkerSettings
        from pipeline.worker import quiet_logging, use_event_loop

        s = Settings(kafka=KafkaSettings(broker=args.broker, flavour=args.flavour),
                     web=WebSettings(port=args.web_port), topic_prefix=args.prefix,
                     worker=WorkerSettings(app_id=app_id, data_dir=Path("data").resolve(), event_loop=args.event_loop))
        s.worker.data_dir.mkdir(parents=True, exist_ok=True)
        use_event_loop(s.worker.event_loop)  # as run_worker
        app = SalesPulseApp(app_id, **faust_kwargs(s))
        set_fetch_waits(app, s)
        quiet_logging("WARNING")
    else:  # faust's defaults: only what the broker needs to work at all, and a free web port
        extra = {"broker_session_timeout": 6.0} if args.flavour == "tansu" else {}
        app = faust.App(app_id, broker=args.broker, web_port=args.web_port, web_host="127.0.0.1", **extra)

    state = {"count": 0, "first": None, "cpu_first": 0.0, "marks": []}
    out = Path(args.out)
    every = max(1, args.events // 100)

    def tick() -> None:
        if state["first"] is None:
            state["first"], state["cpu_first"] = time.time(), _rusage()
        state["count"] += 1
        if state["count"] % every == 0:
            state["marks"].append(time.time())
        if state["count"] == args.events:
            out.write_text(json.dumps({"first": state["first"], "done": time.time(), "count": state["count"],
                                       "cpu_s": _rusage() - state["cpu_first"], "marks": state["marks"],
                                       "peak_rss_kb": vm_hwm_kb(os.getpid())}))

    for spec in T.INPUTS:
        topic = app.topic(args.prefix + spec.name, key_type=bytes, value_type=bytes,
                          key_serializer="raw", value_serializer="raw")

        async def noop(stream):
            async for event in stream.noack().events():  # as the ingest agents: manual acks
                tick()
                event.ack()

        app.agent(topic, name=f"floor-{spec.name}")(noop)
    if args.mode == "ours":
        worker = faust.Worker(app, loglevel="warning", logging_config=None, quiet=True,
                              redirect_stdouts=False, override_logging=False)
        quiet_logging("WARNING")
    else:
        worker = faust.Worker(app, loglevel="warning")
    worker.execute_from_commandline()


def _rusage() -> float:
    import resource

    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def framework_floor(broker_url: str, flavour: str, prefix: str, n: int, mode: str, tmp: Path,
                    timeout: float = 600, event_loop: str = "uvloop") -> dict:
    from pipeline.brokers.base import free_port

    work = tmp / f"floor-{mode}"
    work.mkdir(parents=True, exist_ok=True)
    out = work / "result.json"
    cmd = [sys.executable, "-m", "pipeline.bench", "floor", "--broker", broker_url, "--flavour", flavour,
           "--prefix", prefix, "--events", str(n), "--mode", mode, "--out", str(out),
           "--web-port", str(free_port()), "--event-loop", event_loop]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SALESPULSE_")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    proc = spawn(cmd, env, work, work / "floor.log")
    try:
        deadline = time.monotonic() + timeout
        while not out.exists():
            if proc.poll() is not None:
                raise RuntimeError(f"floor worker ({mode}) exited {proc.returncode}: {log_tail(work / 'floor.log')}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"floor worker ({mode}) did not count {n} events in {timeout:.0f}s")
            time.sleep(0.2)
        time.sleep(0.1)
        r = json.loads(out.read_text())
    finally:
        stop_process(proc)
    seconds = r["done"] - r["first"]
    marks = [r["first"], *r["marks"]]
    gaps = sorted((b - a for a, b in zip(marks, marks[1:])), reverse=True)
    return {"events": r["count"], "seconds": round(seconds, 3), "ev_per_s": rate(r["count"], seconds),
            "longest_gaps_s": [round(g, 3) for g in gaps[:3]],
            "cpu_us_per_event": rounded(r["cpu_s"] / r["count"] * 1e6), "peak_rss_mb": mib(r["peak_rss_kb"])}
