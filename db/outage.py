"""Is an error the database being unreachable (worth holding the work and retrying)?

A refused or dropped connection shows up in several shapes: ``OSError``
(``ConnectionRefusedError``, a missing unix socket) straight from asyncpg's
connect, SQLAlchemy's pool timeout, or a ``DBAPIError`` for a connection that
died under a query or a server that is shutting down or starting up.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

# connection exceptions (08…), admin/crash shutdown, cannot connect now, too many connections
OUTAGE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")


def is_outage(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) says the database cannot be reached."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError | PoolTimeout):
            return True
        if isinstance(current, DBAPIError):
            if current.connection_invalidated or isinstance(
                current, OperationalError | InterfaceError
            ):
                return True
            code = getattr(current.orig, "sqlstate", None) or ""
            if code.startswith(OUTAGE_SQLSTATES):
                return True
        name = type(current).__name__
        if name in {"ConnectionDoesNotExistError", "CannotConnectNowError"}:
            return True
        current = current.__cause__ or current.__context__
    return False
