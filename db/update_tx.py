"""One update's transaction: the engine's own statements straight on asyncpg, the ORM on demand.

An update takes one pooled connection and one transaction. The engine's statements
(open the update, write the person's next state) are fixed SQL, prepared once per
connection by asyncpg and run on the driver directly; the ORM ``session`` the
handlers use is made, on the same connection and transaction, only when a handler
first asks for it. Most updates (a menu, a command, a language) never do.

Why: through the ORM an update cost about 0.5 ms of CPU in SQLAlchemy's session,
execution context and row loading, for three small statements: more than the
whole bare bot does per update (issue 17). The transaction stays SQLAlchemy's
(the adapter's), so a session joined to it sees and writes the same rows. A driver
error is translated into the ``DBAPIError`` SQLAlchemy itself would raise, and a
dead connection is dropped with the rest of the pool, as SQLAlchemy does: the
engine's retry and outage handling see no difference.

This leans on SQLAlchemy's asyncpg adapter (``_transaction``, ``_start_transaction``,
``_handle_exception``) and the pool's ``_invalidate``, which are private: the versions
are pinned (requirements.lock), and tests/integration/test_update_tx.py (one
transaction for both, rollback, error translation, an outage) fails if they change.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any, cast

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from db.session import Database


class UpdateTx:
    """``async with UpdateTx(db) as tx``: rolled back on exit unless ``commit`` was called."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._fairy: Any = None  # the pool's connection
        self._adapted: Any = None  # SQLAlchemy's adapter around the asyncpg connection
        self._orm: AsyncConnection | None = None  # made with the first session
        self._session: AsyncSession | None = None

    async def __aenter__(self) -> UpdateTx:
        dialect = self._db.engine.dialect
        try:
            self._fairy = await self._db.engine.raw_connection()
        except dialect.loaded_dbapi.Error as error:  # as SQLAlchemy wraps a failed connect
            wrapped = DBAPIError.instance(
                None,
                None,
                error,
                dialect.loaded_dbapi.Error,
                connection_invalidated=dialect.is_disconnect(error, None, None),
                dialect=dialect,
            )
            raise wrapped from error
        self._adapted = self._fairy.dbapi_connection
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.rollback()  # nothing when committed
        except BaseException:
            self._fairy.invalidate()  # never back to the pool in an unknown state
            raise
        finally:
            self._fairy.close()  # back to the pool

    @property
    def session(self) -> AsyncSession:
        """The ORM session on this transaction, made at the first use.

        It joins the transaction: flushing writes into it, and its ``commit`` does not
        end it (``commit`` here does).
        """
        if self._session is None:
            if self._orm is None:
                sync = Connection(self._db.engine.sync_engine, self._fairy)
                self._orm = AsyncConnection(self._db.engine, sync)
            if not self._orm.in_transaction():
                # No statement: asyncpg's BEGIN goes with the first one (or went already).
                self._orm.sync_connection.begin()  # type: ignore[union-attr]
            self._session = AsyncSession(
                bind=self._orm, expire_on_commit=False, join_transaction_mode="rollback_only"
            )
        return self._session

    async def fetch(self, sql: str, *args: Any) -> Sequence[Any]:
        """The rows of ``sql`` (asyncpg's ``$1`` placeholders), run in the transaction."""
        return await self._run(sql, args, fetch=True)

    async def execute(self, sql: str, *args: Any) -> None:
        await self._run(sql, args, fetch=False)

    async def _run(self, sql: str, args: tuple[Any, ...], *, fetch: bool) -> Any:
        adapted = self._adapted
        try:
            if adapted._transaction is None:  # BEGIN, as SQLAlchemy's first statement would
                await adapted._start_transaction()
            pg = adapted.driver_connection
            return await (pg.fetch(sql, *args) if fetch else pg.execute(sql, *args))
        except DBAPIError:
            raise
        except Exception as error:
            raise self._translate(sql, error) from error

    def _translate(self, sql: str, error: Exception) -> DBAPIError:
        """``error`` as SQLAlchemy would raise it; a dead connection drops the pool."""
        try:
            self._adapted._handle_exception(error)  # raises the DB-API error for ``error``
        except Exception as dbapi_error:
            dialect = self._db.engine.dialect
            gone = dialect.is_disconnect(cast(Any, dbapi_error), self._adapted, None)
            if gone:
                # The database went away: this connection, and every idle one, is dead;
                # the pool replaces them at their next checkout (what SQLAlchemy does).
                self._db.engine.sync_engine.pool._invalidate(self._fairy, dbapi_error)
            translated = DBAPIError.instance(
                sql,
                None,  # parameters stay out of the message: they hold who wrote (logs)
                dbapi_error,
                dialect.loaded_dbapi.Error,
                hide_parameters=True,
                connection_invalidated=gone,
                dialect=dialect,
            )
            return cast(DBAPIError, translated)
        raise AssertionError("unreachable")  # pragma: no cover

    async def commit(self) -> None:
        """Flush the session (if one was made) and commit the transaction."""
        if self._session is not None:
            await self._session.flush()
        await self._end(commit=True)

    async def rollback(self) -> None:
        """Roll everything back; the transaction (and a new session) can be used again."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()
        await self._end(commit=False)

    async def _end(self, *, commit: bool) -> None:
        """End the transaction: through SQLAlchemy when the ORM joined it, else on the driver."""
        if self._orm is not None and self._orm.in_transaction():
            await (self._orm.commit() if commit else self._orm.rollback())
            return
        transaction, self._adapted._transaction = self._adapted._transaction, None
        if transaction is None:
            return
        try:
            await (transaction.commit() if commit else transaction.rollback())
        except DBAPIError:
            raise
        except Exception as error:
            raise self._translate("COMMIT" if commit else "ROLLBACK", error) from error
