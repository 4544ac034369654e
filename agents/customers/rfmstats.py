"""RFM keys -> per-partition histograms of recency, frequency and monetary value (kept by deltas, stored as
rows), and one key's quintile scores from the histograms of every partition combined.

The read path (GET /customers/{id}, `salespulse customers show`) scores a customer against every
customer without reading them: the owner of each partition keeps its histograms and writes the buckets
that changed in the same transaction as the profiles that moved them, so the rows of all partitions are
always the population of the profiles in SQL. Buckets never move with time:

  * recency (last order time): one bucket per UTC day;
  * frequency (orders): exact below 64, then 8 buckets per doubling;
  * monetary (net spend, 1/10,000 of the reporting currency): exact below 16 units, then 8 buckets per
    doubling (each under 9 % wide).

A histogram gives a value's rank up to its own bucket: the customers in buckets below it, and how many
share its bucket. The mid-rank score (rfm.quintile) is then known exactly unless a quintile boundary
falls inside the bucket (`Position.bounds`); only then does the reader count that one bucket's customers
below and at the value (`Position.exact`), in SQL over an index. With those counts the score equals
RfmPopulation's over every profile (tests/unit/customers/test_rfm_stats.py).
"""

from __future__ import annotations

from typing import NamedTuple

from agents.customers.codec import US_PER_DAY
from agents.customers.rfm import RfmKey

DIMENSIONS = ("r", "f", "m")
_SUB = 3                                  # 2**3 buckets per doubling
_EXACT_BELOW = {"f": 64, "m": 16}         # powers of two: values below are their own bucket


def bucket(dim: str, v: int) -> int:
    """The bucket of value `v` of dimension `dim` (monotonic in v)."""
    if dim == "r":
        return v // US_PER_DAY
    exact = _EXACT_BELOW[dim]
    if v < exact:
        return v
    bits = v.bit_length() - 1
    top = (v >> (bits - _SUB)) & ((1 << _SUB) - 1)
    return exact + ((bits - exact.bit_length() + 1) << _SUB) + top


def bucket_range(dim: str, b: int) -> tuple[int, int]:
    """The values [lo, hi) of bucket `b`."""
    if dim == "r":
        return b * US_PER_DAY, (b + 1) * US_PER_DAY
    exact = _EXACT_BELOW[dim]
    if b < exact:
        return b, b + 1
    octave, top = divmod(b - exact, 1 << _SUB)
    shift = exact.bit_length() - 1 + octave - _SUB
    lo = ((1 << _SUB) | top) << shift
    return lo, lo + (1 << shift)


def key_buckets(key: RfmKey) -> tuple[int, int, int]:
    return bucket("r", key[0]), bucket("f", key[1]), bucket("m", key[2])


def _quintile(twice_midrank: int, n: int) -> int:
    """rfm.quintile from (below + upto) and n."""
    return min(5, 1 + (5 * twice_midrank) // (2 * n))


class Position(NamedTuple):
    """Where a value's bucket sits in the combined histogram of one dimension."""

    below: int        # customers in lower buckets
    same: int         # customers in the value's bucket, the customer itself included
    n: int            # customers with orders

    def bounds(self, single_value: bool) -> tuple[int, int]:
        """The lowest and highest score the value can have; equal when the histogram decides it.
        `single_value`: the bucket holds one value only (then every customer in it ties)."""
        if single_value:
            s = _quintile(2 * self.below + self.same, self.n)
            return s, s
        # below = B + k (0 <= k < same), upto = below + t (t >= 1, k + t <= same)
        return _quintile(2 * self.below + 1, self.n), _quintile(2 * self.below + 2 * self.same - 1, self.n)

    def exact(self, less: int, equal: int) -> int:
        """The score once the bucket's customers under the value (`less`) and at it (`equal`) are counted;
        clamped to what the histogram allows (a count read a moment apart from it)."""
        equal = max(1, min(equal, self.same))
        less = max(0, min(less, self.same - equal))
        return _quintile(2 * self.below + 2 * less + equal, self.n)


def position(counts: tuple[int, int, int]) -> Position:
    """(sum below, sum in the bucket, total) as read -> a Position that includes the customer itself
    (missing from the rows only when read apart from them, or before any worker wrote its partition)."""
    below, same, n = counts
    if same < 1:
        return Position(below, 1, n + 1)
    return Position(below, same, n)


class PartitionStats:
    """One partition's histograms: (dimension, bucket) -> customers, and the buckets changed since written."""

    __slots__ = ("counts", "dirty")

    def __init__(self) -> None:
        self.counts: dict[tuple[str, int], int] = {}
        self.dirty: set[tuple[str, int]] = set()

    def update(self, old: RfmKey | None, new: RfmKey | None) -> None:
        """One customer's key moved from `old` to `new` (None: not in the population)."""
        if old == new:
            return
        ob = key_buckets(old) if old is not None else (None, None, None)
        nb = key_buckets(new) if new is not None else (None, None, None)
        for dim, o, n in zip(DIMENSIONS, ob, nb):
            if o == n:
                continue
            if o is not None:
                self._add((dim, o), -1)
            if n is not None:
                self._add((dim, n), 1)

    def _add(self, cell: tuple[str, int], delta: int) -> None:
        left = self.counts.get(cell, 0) + delta
        if left:
            self.counts[cell] = left
        else:
            del self.counts[cell]  # written once as 0, then forgotten
        self.dirty.add(cell)

    def take(self, partition: int) -> list[dict]:
        """Rows of the buckets changed since the last take (count 0 for an emptied one)."""
        rows = [{"partition": partition, "dimension": dim, "bucket": b, "customers": self.counts.get((dim, b), 0)}
                for dim, b in sorted(self.dirty)]
        self.dirty.clear()
        return rows
