"""Exponential backoff with jitter: attempt number -> seconds to wait before the next attempt."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Backoff:
    base: float = 0.5            # wait after the first failure, seconds
    factor: float = 2.0
    cap: float = 60.0
    jitter: float = 0.1          # +-10%: retries from many workers do not arrive in lockstep
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        d = min(self.cap, self.base * self.factor ** max(0, attempt - 1))
        return max(0.0, d * (1 + self.rng.uniform(-self.jitter, self.jitter)))
