"""Test session: one embedded PostgreSQL for the whole run, a clean schema per test."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from db import migrate
from db.embedded import embedded_url, start_embedded
from db.models import Base
from db.session import Database
from tests.faulty_pg import FaultyPostgres
from tests.support import TEST_KEY

ROOT = Path(__file__).resolve().parents[1]

# The CLI speaks the locale's language; tests expect the default (Vietnamese) whatever
# the machine's locale, in this process and in the processes it starts.
for _name in ("LC_ALL", "LC_MESSAGES", "ANTT_DEFAULT_LANGUAGE"):
    os.environ.pop(_name, None)
os.environ["LANG"] = "C.UTF-8"
# A proper key for everything the session runs (`antt run` refuses a weak one).
os.environ["ANTT_SECRET_KEY"] = TEST_KEY


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A real PostgreSQL: ANTT_TEST_DATABASE_URL if set, else an embedded server."""
    external = os.environ.get("ANTT_TEST_DATABASE_URL")
    if external:
        yield external
        return
    base = ROOT / ".antt-test"
    base.mkdir(exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="pg-", dir=base))
    server = start_embedded(data_dir)
    try:
        yield embedded_url(server)
    finally:
        server.cleanup()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
async def migrated_db(pg_url: str) -> AsyncIterator[Database]:
    database = Database(pg_url, pool_size=5)
    await migrate.upgrade(database)
    yield database
    await database.dispose()


TABLES = ", ".join(t.name for t in Base.metadata.sorted_tables)


@pytest.fixture
async def db(migrated_db: Database) -> AsyncIterator[Database]:
    """The migrated database, emptied before each test."""
    async with migrated_db.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    yield migrated_db


@pytest.fixture(scope="session")
def faulty() -> Iterator[FaultyPostgres]:
    """A PostgreSQL of its own that tests stop and start (outages)."""
    base = ROOT / ".antt-test"
    base.mkdir(exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="faulty-", dir=base))
    pg = FaultyPostgres(data_dir)
    try:
        yield pg
    finally:
        pg.close()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
async def fdb(faulty: FaultyPostgres) -> AsyncIterator[Database]:
    """The faulty server, running, migrated and emptied."""
    await faulty.start()  # a failed test may have left it stopped
    database = await faulty.migrated()
    async with database.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    yield database
    await database.dispose()


@pytest.fixture(autouse=True)
def _logging_as_it_was() -> Iterator[None]:
    """``cli.main`` configures logging for the process (levels, a root handler): undo it
    after each test, so no test sees what an earlier one left."""
    import logging

    manager = logging.Logger.manager
    levels = {
        name: logger.level
        for name, logger in manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    root_level, root_handlers = logging.root.level, list(logging.root.handlers)
    yield
    for name, logger in list(manager.loggerDict.items()):
        if isinstance(logger, logging.Logger):
            logger.setLevel(levels.get(name, logging.NOTSET))
    logging.root.setLevel(root_level)
    logging.root.handlers[:] = root_handlers
