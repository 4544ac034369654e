"""RFM scores from per-partition histograms equal the exact scores over every profile (RfmPopulation):
from the histograms alone unless a quintile boundary falls inside the value's bucket, and always once that
bucket's customers below and at the value are counted."""

from __future__ import annotations

import random

from hypothesis import given, settings, strategies as st

from agents.customers.codec import US_PER_DAY
from agents.customers.rfm import RfmPopulation, quintile
from agents.customers.rfmstats import DIMENSIONS, PartitionStats, Position, bucket, bucket_range, position

T0 = 1_790_000_000 * 1_000_000      # 2026-09, in microseconds


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(DIMENSIONS), st.integers(0, 2**70))
def test_buckets_are_monotonic_and_their_ranges_hold_their_values(dim, v):
    b = bucket(dim, v)
    lo, hi = bucket_range(dim, b)
    assert lo <= v < hi
    assert bucket(dim, lo) == b == bucket(dim, hi - 1) and bucket(dim, hi) == b + 1
    if dim != "r" and v >= 64:
        assert (hi - lo) / lo <= 0.125   # 8 buckets per doubling


keys = st.tuples(
    st.one_of(st.integers(T0, T0 + 400 * US_PER_DAY), st.sampled_from([T0, T0 + 3, T0 + US_PER_DAY])),
    st.one_of(st.integers(1, 12), st.integers(1, 5000)),
    st.one_of(st.integers(0, 10**9), st.sampled_from([0, 1, 15, 16, 17, 10_000, 10_001])),
)


def histograms(population: list, partitions: int, rnd: random.Random) -> list[PartitionStats]:
    """Per-partition histograms kept by deltas, as the worker keeps them: customers arrive, move, leave."""
    stats = [PartitionStats() for _ in range(partitions)]
    where = {}
    for i, key in enumerate(population):
        where[i] = rnd.randrange(partitions)
        s = stats[where[i]]
        first = (key[0] - rnd.randrange(US_PER_DAY * 3), max(1, key[1] - 1), key[2] // 2)
        s.update(None, first)
        s.update(first, key)
    leaving = (rnd.randrange(partitions), (T0, 1, 5))
    stats[leaving[0]].update(None, leaving[1])
    stats[leaving[0]].update(leaving[1], None)
    return stats


def combined(stats: list[PartitionStats], dim: str, b: int) -> tuple[int, int, int]:
    """What the reader sums over every partition's rows: below the bucket, in it, all."""
    rows = [(d, k, n) for s in stats for (d, k), n in s.counts.items() if d == dim]
    return (sum(n for _, k, n in rows if k < b), sum(n for _, k, n in rows if k == b), sum(n for *_, n in rows))


@settings(max_examples=300, deadline=None)
@given(st.lists(keys, min_size=1, max_size=300), st.integers(1, 6), st.randoms(use_true_random=False), st.data())
def test_histogram_scores_equal_the_exact_scores(population, partitions, rnd, data):
    exact = RfmPopulation(population)
    stats = histograms(population, partitions, rnd)
    for key in data.draw(st.lists(st.sampled_from(population), min_size=1, max_size=10), label="customers"):
        for i, (dim, values) in enumerate(zip(DIMENSIONS, (exact.recency, exact.frequency, exact.monetary))):
            v = key[i]
            b = bucket(dim, v)
            lo, hi = bucket_range(dim, b)
            pos = position(combined(stats, dim, b))
            want = quintile(values, v)
            low, high = pos.bounds(single_value=hi - lo == 1)
            assert low <= want <= high, (dim, v, pos)
            if low == high:
                assert want == low          # the histogram alone decides: no boundary inside the bucket
            else:                           # a boundary inside the bucket: count it (the reader's SQL)
                less = sum(1 for x in values if lo <= x < v)
                equal = sum(1 for x in values if x == v)
                assert pos.exact(less, equal) == want


def test_a_customer_missing_from_the_rows_is_scored_as_one_of_them():
    assert position((0, 0, 0)) == Position(0, 1, 1) and Position(0, 1, 1).bounds(True) == (3, 3)
    assert position((4, 0, 4)).exact(0, 1) == quintile_of(10, [1, 2, 3, 4], 5)


def quintile_of(value, others, n):
    from sortedcontainers import SortedList

    sl = SortedList(others + [value])
    assert len(sl) == n
    return quintile(sl, value)


def test_emptied_buckets_are_written_once_as_zero():
    s = PartitionStats()
    s.update(None, (T0, 1, 100))
    assert {(r["dimension"], r["customers"]) for r in s.take(3)} == {("r", 1), ("f", 1), ("m", 1)}
    s.update((T0, 1, 100), (T0, 2, 100))
    assert [(r["dimension"], r["customers"]) for r in s.take(3)] == [("f", 0), ("f", 1)]
    assert s.take(3) == [] and s.counts == {("r", bucket("r", T0)): 1, ("f", 2): 1, ("m", bucket("m", 100)): 1}
