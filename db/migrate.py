"""Alembic migrations driven programmatically on an async engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from db.session import Database

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def _run(conn: Connection, fn: Any, *args: Any) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = conn
    fn(cfg, *args)


async def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the database to ``revision`` (default: head)."""
    async with db.engine.begin() as conn:
        await conn.run_sync(_run, command.upgrade, revision)


async def downgrade(db: Database, revision: str) -> None:
    async with db.engine.begin() as conn:
        await conn.run_sync(_run, command.downgrade, revision)


async def current_revision(db: Database) -> str | None:
    def _current(conn: Connection) -> str | None:
        return MigrationContext.configure(conn).get_current_revision()

    async with db.engine.connect() as conn:
        return await conn.run_sync(_current)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def autogenerate(db: Database, message: str) -> None:
    """Write a new revision from the difference between models and database (developers)."""
    async with db.engine.begin() as conn:
        await conn.run_sync(_run, command.revision, message, True)
