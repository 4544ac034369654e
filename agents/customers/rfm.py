"""(last order, orders, net spend) of every customer -> RFM scores 1-5 by quintile, and a named segment."""

from __future__ import annotations

from typing import Iterable, NamedTuple

from sortedcontainers import SortedList

from agents.customers.config import SEGMENTS

RfmKey = tuple[int, int, int]    # (last order time us, orders count, net spend units)


class Rfm(NamedTuple):
    r: int
    f: int
    m: int
    segment: str


# Rows: recency score 1..5; columns: (f + m) / 2 rounded half up, 1..5.
_GRID = {
    5: ("New", "Potential loyalist", "Potential loyalist", "Champions", "Champions"),
    4: ("Promising", "Potential loyalist", "Potential loyalist", "Loyal", "Champions"),
    3: ("Promising", "Need attention", "Need attention", "Loyal", "Loyal"),
    2: ("Hibernating", "Hibernating", "At risk", "At risk", "Can't lose"),
    1: ("Lost", "Lost", "At risk", "Can't lose", "Can't lose"),
}
assert {s for row in _GRID.values() for s in row} == set(SEGMENTS)


def segment(r: int, f: int, m: int) -> str:
    return _GRID[r][(f + m + 1) // 2 - 1]


def quintile(sl: SortedList, x: int) -> int:
    """Score 1-5 from the mid-rank percentile of x in sl (ties share a score; one customer scores 3)."""
    n = len(sl)
    if n == 0:
        return 3
    below, upto = sl.bisect_left(x), sl.bisect_right(x)
    return min(5, 1 + (5 * (below + upto)) // (2 * n))


class RfmPopulation:
    """The current distribution of recency, frequency and monetary value; O(log n) per change."""

    __slots__ = ("recency", "frequency", "monetary")

    def __init__(self, keys: Iterable[RfmKey] = ()) -> None:
        keys = list(keys)
        self.recency = SortedList(k[0] for k in keys)
        self.frequency = SortedList(k[1] for k in keys)
        self.monetary = SortedList(k[2] for k in keys)

    def __len__(self) -> int:
        return len(self.recency)

    def update(self, old: RfmKey | None, new: RfmKey | None) -> None:
        """Replace one customer's old key (None: was not in the population) by the new one."""
        if old == new:
            return
        if old is not None:
            self.recency.remove(old[0])
            self.frequency.remove(old[1])
            self.monetary.remove(old[2])
        if new is not None:
            self.recency.add(new[0])
            self.frequency.add(new[1])
            self.monetary.add(new[2])

    def score(self, key: RfmKey | None) -> Rfm | None:
        if key is None:
            return None
        r = quintile(self.recency, key[0])
        f = quintile(self.frequency, key[1])
        m = quintile(self.monetary, key[2])
        return Rfm(r, f, m, segment(r, f, m))
