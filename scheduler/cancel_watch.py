"""Whether an announcement was cancelled, as the outbox sender sees it: from memory, fresh.

The sender asks before it hands each message of an announcement to the messenger
(``OutboxSender``); a cancel may come from any process (the author's button, ``antt
broadcast cancel``), so the answer is read from the ``broadcast`` table, at most
every ``REFRESH`` seconds for all the announcements being sent (one primary-key
query), and from memory in between. A cancelled announcement stays cancelled, so
that answer is never asked again. Nothing is handed over more than ``REFRESH``
seconds after the cancel is committed; a message already handed over goes out and
is counted delivered.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

from sqlalchemy import select

from db.models import Broadcast, BroadcastStatus
from db.session import Database

REFRESH = 0.25  # seconds an answer "not cancelled" is trusted
KEEP = 256  # announcements remembered (far more than ever go out at once)


class CancelWatch:
    def __init__(
        self,
        db: Database,
        *,
        refresh: float = REFRESH,
        monotonic: Callable[[], float] = time.monotonic,
        keep: int = KEEP,
    ) -> None:
        self.db = db
        self.refresh = refresh
        self.monotonic = monotonic
        self.keep = keep
        self.cancelled_ids: set[int] = set()
        self.active: dict[int, float] = {}  # announcement -> when last seen not cancelled
        self._lock = asyncio.Lock()

    async def cancelled(self, broadcast_id: int) -> bool:
        if broadcast_id in self.cancelled_ids:
            return True
        if self._stale(broadcast_id):
            async with self._lock:  # one query for every chat that asks meanwhile
                if self._stale(broadcast_id):
                    await self._read({*self.active, broadcast_id})
        return broadcast_id in self.cancelled_ids

    def _stale(self, broadcast_id: int) -> bool:
        seen = self.active.get(broadcast_id, -math.inf)
        return self.monotonic() - seen > self.refresh

    async def _read(self, ids: set[int]) -> None:
        async with self.db.sessions() as session:
            rows = (
                await session.execute(
                    select(Broadcast.id, Broadcast.status).where(Broadcast.id.in_(ids))
                )
            ).all()
        now = self.monotonic()
        status = dict(rows)
        for broadcast_id in ids:
            if status.get(broadcast_id) == BroadcastStatus.CANCELLED.value:
                self.cancelled_ids.add(broadcast_id)
                self.active.pop(broadcast_id, None)
            elif broadcast_id in status:
                self.active[broadcast_id] = now
            else:
                self.active.pop(broadcast_id, None)
        # Finished announcements age out: the latest seen, and the newest cancelled, stay.
        for old in sorted(self.active, key=self.active.__getitem__)[: -self.keep]:
            del self.active[old]
        self.cancelled_ids = set(sorted(self.cancelled_ids)[-self.keep :])
