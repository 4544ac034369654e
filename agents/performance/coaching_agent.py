"""clock, the observe port (rep -> metric -> value) -> coaching streaks and items in SQL, once per slot."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime

from agents.escalation.directory import Directory
from agents.performance import coaching_store as store
from agents.performance.coaching import Step, TrainingConfig, load_training, members_of
from pipeline.runtime import Runtime, now_utc

log = logging.getLogger(__name__)

# the port the composition root fills (agents.performance.metrics.coaching_observations over a trailing
# window): every rep's metrics as of `at`, None where there is nothing to measure; sync or async
Observed = Mapping[str, Mapping[str, float | None]]
Observe = Callable[[datetime], Observed | Awaitable[Observed]]


def nothing_observed(at: datetime) -> Observed:
    """The observe port before a capability measures reps: no observation, no item."""
    return {}


class Coaching:
    """Observes each slot once: a cheap look whether it was observed, then the port, then the store's claim."""

    def __init__(self, engine, cfg: TrainingConfig, directory: Directory, observe: Observe, metrics=None) -> None:
        self.engine, self.cfg, self.observe, self.metrics = engine, cfg, observe, metrics
        self.members = members_of(directory.people)
        self.last: datetime | None = None   # the slot this worker knows is observed

    async def tick(self, now: datetime) -> Step | None:
        """What this tick's observation changed; None when the slot was observed already (here or elsewhere)."""
        slot = self.cfg.slot(now)
        if slot == self.last or await store.swept(self.engine, slot):
            self.last = slot
            return None
        observed = self.observe(now)
        if inspect.isawaitable(observed):
            observed = await observed
        if not observed:  # nothing measured: the slot stays free for a worker that can measure
            self.last = slot
            return None
        out = await store.sweep(self.engine, self.cfg, self.members, now, observed)
        self.last = slot
        if out is not None and self.metrics is not None:
            for o in out.opened:
                self.metrics.coaching_items.labels("opened", o.metric).inc()
            for _rep, metric in out.recovered_keys:
                self.metrics.coaching_items.labels("recovered", metric).inc()
        if out is not None:
            log.info("coaching: slot %s observed %d reps, %d items opened, %d recovered", slot.isoformat(),
                     len(observed), len(out.opened), len(out.recovered))
        return out


def register(rt: Runtime, directory: Directory, observe: Observe) -> Coaching:
    """A timer per `check_interval_s` on every worker; a slot (`sweep_interval_s`, daily by default) is observed
    by whichever worker claims it first in SQL, so two workers or a restart never count one twice."""
    cfg = load_training(rt.settings.paths.resolve("training", "training.yaml"))
    coaching = Coaching(rt.engine, cfg, directory, observe, rt.metrics)

    @rt.app.timer(interval=cfg.check_interval_s)
    async def _sweep() -> None:
        if not rt.state_ready.is_set():
            return
        try:
            await coaching.tick(now_utc())
        except Exception as exc:  # the database briefly away: the next tick observes the slot
            log.warning("coaching not swept: %s", exc)

    return coaching
