"""``antt db backup`` / ``antt db restore`` on real PostgreSQL: back up a database full of
rows, wipe it, restore it, and find every row of every table again."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.commands import db as db_command
from bot.config import get_settings
from bot.errors import UserError
from db import migrate
from db.models import Base
from db.session import Database
from tests.integration.digest_helpers import make_dataset
from tests.integration.test_migrations import _with_database

NAME = "antt_backup_test"


@pytest.fixture
async def scratch(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Database]:
    admin = Database(pg_url, pool_size=1)
    async with admin.engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f"DROP DATABASE IF EXISTS {NAME} WITH (FORCE)"))
        await conn.execute(text(f"CREATE DATABASE {NAME}"))
    url = _with_database(pg_url, NAME)
    monkeypatch.setenv("ANTT_DATABASE_URL", url)
    get_settings.cache_clear()
    database = Database(url, pool_size=2)
    await migrate.upgrade(database)
    yield database
    await database.dispose()
    get_settings.cache_clear()
    async with admin.engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f"DROP DATABASE IF EXISTS {NAME} WITH (FORCE)"))
    await admin.dispose()


async def everything(database: Database) -> dict[str, list[str]]:
    """Every row of every table (and the schema revision), as text, in a fixed order."""
    found: dict[str, list[str]] = {}
    async with database.engine.connect() as conn:
        for table in [*(t.name for t in Base.metadata.sorted_tables), "alembic_version"]:
            rows = await conn.execute(text(f"SELECT t::text FROM {table} t ORDER BY 1"))
            found[table] = [r[0] for r in rows]
    return found


async def test_backup_wipe_restore_finds_every_row(scratch: Database, tmp_path: Path) -> None:
    await make_dataset(scratch)
    before = await everything(scratch)
    assert sum(len(rows) for rows in before.values()) > 50
    file = tmp_path / "antt.dump"
    assert await db_command.backup(argparse.Namespace(file=file)) == 0
    assert file.stat().st_size > 0

    async with scratch.engine.begin() as conn:  # the wipe
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await scratch.dispose()
    assert await db_command.restore(argparse.Namespace(file=file)) == 0
    assert await everything(scratch) == before


async def test_restore_of_a_missing_file_is_a_clear_error(
    scratch: Database, tmp_path: Path
) -> None:
    with pytest.raises(UserError, match="nothing.dump"):
        await db_command.restore(argparse.Namespace(file=tmp_path / "nothing.dump"))
