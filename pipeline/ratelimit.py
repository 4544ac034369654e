"""Rates per caller: a token bucket (events or reads per second, a burst) and the Retry-After it implies."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    """`rate` events per second, at most `burst` at once; the caller passes the clock."""

    rate: float
    burst: float
    tokens: float = field(default=-1.0)
    updated: float = 0.0

    def _refill(self, now: float) -> None:
        if self.tokens < 0:
            self.tokens, self.updated = self.burst, now
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def wait_for(self, n: float, now: float) -> float:
        """Seconds until `n` events would pass (0 = now), without taking any."""
        self._refill(now)
        return 0.0 if self.tokens >= n else (n - self.tokens) / self.rate

    def take(self, n: float, now: float) -> float:
        """Take `n` and return 0, or return the seconds to wait and take nothing."""
        wait = self.wait_for(n, now)
        if wait == 0.0:
            self.tokens -= n
        return wait


def retry_after(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(seconds)))}
