"""Migrations from empty to head and back, on real PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from db import migrate
from db.models import Base
from db.session import Database


async def _tables(db: Database) -> set[str]:
    async with db.engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


def _with_database(url: str, name: str) -> str:
    """The same server URL pointing at database ``name``."""
    base, _, query = url.partition("?")
    return base.rsplit("/", 1)[0] + "/" + name + (f"?{query}" if query else "")


async def test_upgrade_downgrade_upgrade(pg_url: str) -> None:
    admin = Database(pg_url, pool_size=1)
    async with admin.engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("DROP DATABASE IF EXISTS antt_migrations_test"))
        await conn.execute(text("CREATE DATABASE antt_migrations_test"))
    await admin.dispose()
    url = _with_database(pg_url, "antt_migrations_test")
    scratch = Database(url, pool_size=1)
    try:
        assert await _tables(scratch) == set()
        await migrate.upgrade(scratch)
        assert await migrate.current_revision(scratch) == migrate.head_revision()
        expected = {t.name for t in Base.metadata.sorted_tables}
        assert expected <= await _tables(scratch)
        await migrate.downgrade(scratch, "base")
        assert await _tables(scratch) <= {"alembic_version"}
        await migrate.upgrade(scratch)
        assert expected <= await _tables(scratch)
    finally:
        await scratch.dispose()


async def test_checkin_history_is_append_only(db: Database) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(text("INSERT INTO member (full_name) VALUES ('a')"))
        await conn.execute(text("INSERT INTO audit (action, data) VALUES ('x', '{}')"))
    with pytest.raises(DBAPIError, match="append-only"):
        async with db.engine.begin() as conn:
            await conn.execute(text("UPDATE audit SET action = 'y'"))
