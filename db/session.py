"""Engine, sessions and the unit of work.

Repositories add and get but never commit; ``async with UnitOfWork(db) as uow``
rolls back unless ``await uow.commit()`` is called, so a tip, its events and the
conversation's next state commit together or not at all.

No ``pool_pre_ping``: with asyncpg it costs three round trips (BEGIN, a ping,
ROLLBACK) on every checkout, half of an update's, and each one is a wake-up of
the database and of this process on a shared machine: it was most of the tail
latency at a province's peak (issue 17). A connection that died with the
database instead fails its first statement; SQLAlchemy then invalidates the
whole pool, and the caller's retry (``Engine.handle``, a job's backoff, the
outbox sender's next turn) gets a fresh connection.

One connection per task at a time from the pool: an update holds one for its
transaction and opens no other; the scheduler's jobs and the outbox sender hold
their advisory lock (:mod:`scheduler.leader`) on a connection of ``lock_engine``,
a pool of its own that never makes anyone wait. When the locks came from this
pool, a job held one connection (its lock) while it waited for a second (its
work): with as many jobs as connections (eight fire at start-up), every job
waited for every other, and the updates waited behind them until the pool's
30 s timeout.

No overflow either: the pool keeps every connection it opens (``pool_size``
plus as many again, the same ceiling as before). An overflow connection was
closed when it came back and opened anew at the next burst, and a new asyncpg
connection costs a connect, its type codecs and every statement prepared again:
with 20 people tapping at once, that churn was a tenth of the bot's CPU (issue 17).
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


class Database:
    """One engine and its session factory."""

    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False) -> None:
        self.url = url
        # hide_parameters: a failed statement's message (logged with its traceback)
        # leaves the values out; they may be who wrote (an id, a name, a tip's text).
        self.engine: AsyncEngine = create_async_engine(
            url, pool_size=2 * pool_size, max_overflow=0, echo=echo, hide_parameters=True
        )
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._lock_engine: AsyncEngine | None = None

    @property
    def lock_engine(self) -> AsyncEngine:
        """Connections that hold advisory locks: outside ``engine``'s pool, never waited for.

        At most one per scheduled job and one per channel's outbox sender are held
        at a time; two stay open while idle.
        """
        if self._lock_engine is None:
            self._lock_engine = create_async_engine(
                self.url, pool_size=2, max_overflow=-1, hide_parameters=True
            )
        return self._lock_engine

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._lock_engine is not None:
            await self._lock_engine.dispose()


class UnitOfWork:
    """A transaction: rolled back on exit unless committed."""

    session: AsyncSession

    def __init__(self, db: Database) -> None:
        self._db = db

    async def __aenter__(self) -> UnitOfWork:
        self.session = self._db.sessions()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Closing ends the transaction, rolling back whatever was not committed.
        await self.session.close()

    async def commit(self) -> None:
        await self.session.commit()

    async def rollback(self) -> None:
        await self.session.rollback()
