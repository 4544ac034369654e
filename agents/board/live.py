"""Escalator state changes + a 1 s SQL poll -> per-subscriber queues of changed incident keys (the board's stream)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from agents.escalation.state import IncidentState
from pipeline.db.models import IncidentRow

INCIDENTS = IncidentRow.__table__
QUEUE_SIZE = 256
EVERYTHING = "*"                       # queued instead of keys when a reader fell behind: refresh all
LOOKBACK = timedelta(seconds=30)      # rows written late by a batching writer still count as changes


class Hub:
    """Fans incident changes out to the open streams.

    The escalator calls `on_change` on every state change of the incidents this worker owns (at once,
    before the row is written); the poll sees what every worker wrote to SQL (other partitions, or an
    escalator without the hook). Keys are hints: a reader refreshes what it shows from the JSON API.
    """

    def __init__(self, engine) -> None:
        self.engine = engine
        self.subscribers: set[asyncio.Queue] = set()
        self._reported: dict[str, datetime] = {}   # key -> updated_at already published
        self._since: datetime | None = None         # when the first of the current subscribers came

    def subscribe(self) -> asyncio.Queue:
        q: asyncio.Queue = asyncio.Queue(QUEUE_SIZE)
        if not self.subscribers:
            self._since = datetime.now(timezone.utc) - timedelta(seconds=2)
        self.subscribers.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue) -> None:
        self.subscribers.discard(q)

    def close(self) -> None:
        """Worker shutting down: end every stream (the browser reconnects to another worker)."""
        for q in list(self.subscribers):
            while not q.empty():
                q.get_nowait()
            q.put_nowait(None)

    def publish(self, keys: list[str]) -> None:
        for q in list(self.subscribers):
            if q.qsize() + len(keys) >= QUEUE_SIZE:
                while not q.empty():
                    q.get_nowait()
                q.put_nowait(EVERYTHING)
                continue
            for key in keys:
                q.put_nowait(key)

    def on_change(self, state: IncidentState) -> None:
        """Escalator listener: runs inside Escalator.save, so it only queues (cheap, never raises)."""
        if self.subscribers:
            self.publish([state.incident_key])

    async def poll(self) -> None:
        """Publish the incidents whose SQL row changed since the last poll (only while someone watches)."""
        if not self.subscribers:
            self._reported = {}
            return
        t = INCIDENTS.c.updated_at
        async with self.engine.connect() as conn:
            newest = (await conn.execute(select(func.max(t)))).scalar_one_or_none()
            if newest is None:
                return
            rows = (await conn.execute(select(INCIDENTS.c.incident_key, t).where(t >= newest - LOOKBACK))).all()
        since = self._since
        changed = [k for k, at in rows if self._reported.get(k) != at and (since is None or at >= since)]
        self._reported = {k: at for k, at in rows}  # older rows fall out of the window
        if changed:
            self.publish(changed)
