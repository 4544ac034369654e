"""Dedup stage: notification_id -> first time seen? Bounded, oldest forgotten first."""

from __future__ import annotations

from collections import OrderedDict
from typing import Hashable


class Dedup:
    def __init__(self, maxsize: int = 100_000) -> None:
        self._seen: OrderedDict[Hashable, None] = OrderedDict()
        self._max = maxsize

    def first_time(self, key: Hashable) -> bool:
        if key in self._seen:
            self._seen.move_to_end(key)
            return False
        self._seen[key] = None
        if len(self._seen) > self._max:
            self._seen.popitem(last=False)
        return True
