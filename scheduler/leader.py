"""One holder of a name across every process on the database: a PostgreSQL advisory lock.

``AdvisoryLock(db, "outbox:telegram")`` takes ``pg_try_advisory_lock`` on a
connection of its own, from ``db.lock_engine``: not from the pool the work
uses, so a job holding its lock while it waits for a connection for its work
cannot take the last one (see :mod:`db.session`). PostgreSQL releases the
lock when that connection ends, so a holder killed with -9 (or cut off from the
database) loses it at once and a standby's next ``acquire`` gets it. ``acquire``
on a held lock checks that its connection is still alive (a lost connection
means the lock is gone too).

Used for the outbox sender (one per channel: one set of rate limits, whatever
the number of processes) and for each scheduled job (one run at a time).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from db.session import Database

log = logging.getLogger(__name__)


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``name`` (advisory locks take a bigint)."""
    digest = hashlib.blake2b(f"antt:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class AdvisoryLock:
    def __init__(self, db: Database, name: str) -> None:
        self.db = db
        self.name = name
        self.key = lock_key(name)
        self._conn: AsyncConnection | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None

    async def acquire(self) -> bool:
        """True when this process holds the lock (just taken, or still held)."""
        if self._conn is not None:
            try:
                await self._conn.execute(text("SELECT 1"))
                return True
            except Exception as exc:
                log.warning("%s: lost with its connection (%s)", self.name, exc)
                await self._drop()
                return False
        conn = await self.db.lock_engine.connect()
        try:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            got = await conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key})
        except BaseException:
            await conn.invalidate()
            await conn.close()
            raise
        if not got:
            await conn.close()
            return False
        self._conn = conn
        return True

    async def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            await conn.close()
        except Exception:  # the connection is gone, and the lock with it
            with contextlib.suppress(Exception):
                await conn.invalidate()
                await conn.close()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.invalidate()
                await conn.close()
