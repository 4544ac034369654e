"""(count, trials, probability) -> one-sided tail probabilities, exact, with math.lgamma (no scipy)."""

from __future__ import annotations

import math

_TINY = 1e-17  # a term this small against the sum so far changes nothing a p-value threshold can see


def _log_pmf(k: int, n: int, p: float) -> float:
    return (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
            + k * math.log(p) + (n - k) * math.log1p(-p))


def binomial_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    if k <= 0:
        return 1.0
    if k > n or p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    mode = int((n + 1) * p)
    if k <= mode:
        # the upper tail holds the mode: sum the (short) lower side instead
        return max(0.0, 1.0 - _lower(k - 1, n, p))
    total, x = 0.0, k
    while x <= n:
        term = math.exp(_log_pmf(x, n, p))
        total += term
        if term < total * _TINY:   # past the mode every next term is smaller
            break
        x += 1
    return min(1.0, total)


def _lower(k: int, n: int, p: float) -> float:
    """P(X <= k), summed downwards from k (k below the mode: the terms fall)."""
    total, x = 0.0, k
    while x >= 0:
        term = math.exp(_log_pmf(x, n, p))
        total += term
        if term < total * _TINY:
            break
        x -= 1
    return min(1.0, total)


def poisson_rates_p(observed: int, baseline: int, window_share: float) -> float:
    """One-sided p-value that the window's rate exceeds the baseline's, both Poisson counts.

    Conditional on the total, the window's count is Binomial(observed + baseline, window_share) when
    the rates are equal, `window_share` being window length / (window + baseline length). Exact, and it
    counts the baseline's own noise: a quiet baseline does not make an ordinary hour look like a spike.
    """
    return binomial_sf(observed, observed + baseline, window_share)
