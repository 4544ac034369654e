"""Run one worker process: migrate the database, build the app, hand it to faust's Worker."""

from __future__ import annotations

import logging

from collections.abc import Callable

from pipeline.runtime import Runtime
from pipeline.settings import Settings

NOISY = ("aiokafka", "faust", "mode", "kafka", "aiohttp", "alembic", "sqlalchemy")


def quiet_logging(level: str) -> None:
    """mode leaves the root logger at DEBUG and filters only at the handler; libraries then
    build log records per event. Set the loggers themselves (the records dropped cost ~12% of the throughput)."""
    lvl = getattr(logging, level.upper(), logging.WARNING)
    logging.basicConfig(level=lvl, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger().setLevel(lvl)
    for name in NOISY:
        logging.getLogger(name).setLevel(max(lvl, logging.WARNING))


def use_event_loop(name: str) -> None:
    """Before any loop exists: uvloop for every loop the worker makes (faust's consumer thread too),
    through mode, faust's service library (what `faust --loop uvloop` does)."""
    if name == "uvloop":
        import mode.loop

        mode.loop.use("uvloop")


def tune_gc(threshold: tuple[int, int, int], metrics=None) -> None:
    """Freeze what exists now (modules, lexicon, app) out of every later collection, then set the
    thresholds. A full collection walks every tracked object: ~1 us each on this machine, so the
    ~120,000 a running worker holds made each one a 150-300 ms stop of the event loop; 700
    allocations per young collection (Python's default) made ~30 a second during a drain."""
    import gc

    global _gc_tuned
    gc.collect()
    gc.freeze()
    gc.set_threshold(*threshold)
    _gc_tuned = True
    if metrics is not None:
        gc.callbacks.append(_pause_timer(metrics.gc_pause))


def _pause_timer(histogram):
    import time

    children = [histogram.labels(generation=str(g)) for g in range(3)]
    started = [0.0]

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            children[info["generation"]].observe(time.perf_counter() - started[0])

    return on_gc


_gc_tuned = False  # only a worker process freezes (an app built inside tests leaves the GC alone)


def freeze_loaded_state() -> None:
    """After an assignment's state is loaded: those objects live until the next rebalance."""
    import gc

    if not _gc_tuned:
        return
    gc.collect(1)  # young cyclic garbage first, so freezing keeps none of it
    gc.freeze()


def run_worker(settings: Settings, build: Callable[[Settings], Runtime]) -> None:
    """`build`: settings -> the worker's Runtime with its capabilities (the composition root's)."""
    import asyncio

    import faust

    from pipeline.db.migrate import upgrade

    use_event_loop(settings.worker.event_loop)
    quiet_logging(settings.worker.log_level)
    rt = build(settings)

    async def _migrate() -> None:
        await upgrade(rt.engine)
        await rt.engine.dispose()

    asyncio.run(_migrate())
    from pipeline.admin import ensure_topics

    ensure_topics(settings)
    worker = faust.Worker(
        rt.app, loglevel=settings.worker.log_level.lower(), logging_config=None,
        quiet=True,
        redirect_stdouts=False, override_logging=False,
    )
    # faust's Worker re-applies its own level to the root logger; put ours back
    quiet_logging(settings.worker.log_level)
    tune_gc(settings.worker.gc_threshold, rt.metrics)
    worker.execute_from_commandline()
