"""Alembic migrations driven programmatically on an async engine.

``upgrade`` to head first reads the database's revision and the head named in
the migration files (as text, not imported); Alembic is imported only when the
schema is behind. A process that starts on an up-to-date database (``antt run``,
``antt scheduler``) never loads Alembic, Mako and Pygments: about 10 MB of its
memory (issue 17).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from db.session import Database

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# `revision: str = "x"`, `down_revision: str | None = "y"`, `branch_labels = None`, ...
_HEADER = re.compile(
    r"^(revision|down_revision|branch_labels|depends_on)\b[^=\n]*=\s*(.+?)\s*$", re.MULTILINE
)


def alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def _run(conn: Connection, fn: Any, *args: Any) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = conn
    fn(cfg, *args)


def script_heads() -> frozenset[str] | None:
    """The head revisions, read from the files' headers; None when they are not plain.

    Plain: each file names its ``revision`` and ``down_revision`` (a string, a tuple
    of strings or None) as literals, and uses no ``branch_labels`` or ``depends_on``.
    Anything else is left to Alembic.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        header = {name: value for name, value in _HEADER.findall(path.read_text(encoding="utf-8"))}
        try:
            revision = ast.literal_eval(header["revision"])
            down = ast.literal_eval(header.get("down_revision", "None"))
            extras = [
                ast.literal_eval(header.get(k, "None")) for k in ("branch_labels", "depends_on")
            ]
        except (KeyError, ValueError, SyntaxError):
            return None
        if not isinstance(revision, str) or any(extra is not None for extra in extras):
            return None
        downs = down if isinstance(down, tuple) else (down,)
        if not all(d is None or isinstance(d, str) for d in downs):
            return None
        revisions.add(revision)
        parents.update(d for d in downs if d is not None)
    return frozenset(revisions - parents) or None


async def database_revisions(db: Database) -> frozenset[str]:
    """The revisions in the database's ``alembic_version`` table (none if it has none)."""
    async with db.engine.connect() as conn:
        if not await conn.scalar(text("SELECT to_regclass('alembic_version') IS NOT NULL")):
            return frozenset()
        rows = await conn.execute(text("SELECT version_num FROM alembic_version"))
        return frozenset(rows.scalars())


async def is_at_head(db: Database) -> bool:
    """True when the database is at the one head of the migration files."""
    heads = script_heads()
    return heads is not None and len(heads) == 1 and await database_revisions(db) == heads


async def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the database to ``revision`` (default: head); Alembic only if there is work."""
    if revision == "head" and await is_at_head(db):
        return
    from alembic import command

    async with db.engine.begin() as conn:
        await conn.run_sync(_run, command.upgrade, revision)


async def downgrade(db: Database, revision: str) -> None:
    from alembic import command

    async with db.engine.begin() as conn:
        await conn.run_sync(_run, command.downgrade, revision)


async def current_revision(db: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    def _current(conn: Connection) -> str | None:
        return MigrationContext.configure(conn).get_current_revision()

    async with db.engine.connect() as conn:
        return await conn.run_sync(_current)


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def autogenerate(db: Database, message: str) -> None:
    """Write a new revision from the difference between models and database (developers)."""
    from alembic import command

    async with db.engine.begin() as conn:
        await conn.run_sync(_run, command.revision, message, True)
