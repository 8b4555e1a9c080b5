"""Helpers for the import tests: run an import in its own transaction, dump tables."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import text

from db.importing import Counts
from db.plan_import import PlanReport, import_plan_file
from db.session import Database, UnitOfWork
from db.unit_import import import_unit_file
from handlers.i18n import current_language, set_language

# Every table an import may write, and its order for a dump.
IMPORT_TABLES = {
    "unit": "id",
    "plan": "id",
    "task": "id",
    "assignment": "id",
    "tip_category": "code",
    "audit": "id",
}


def in_english() -> Iterator[None]:
    """Body of an autouse fixture: messages in English (the msgids) for the test."""
    previous = current_language()
    set_language("en")
    yield
    set_language(previous)


async def import_plan(db: Database, path: Path | str) -> PlanReport:
    async with UnitOfWork(db) as uow:
        report = await import_plan_file(uow.session, path)
        await uow.commit()
    return report


async def import_units(db: Database, path: Path | str) -> Counts:
    async with UnitOfWork(db) as uow:
        counts = await import_unit_file(uow.session, path)
        await uow.commit()
    return counts


async def dump(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table an import writes, all columns, in key order."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    async with db.engine.connect() as conn:
        for table, order in IMPORT_TABLES.items():
            result = await conn.execute(text(f"SELECT * FROM {table} ORDER BY {order}"))
            tables[table] = [tuple(row) for row in result.all()]
    return tables


async def row_counts(db: Database) -> dict[str, int]:
    async with db.engine.connect() as conn:
        return {
            table: (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
            for table in IMPORT_TABLES
        }


async def scalar(db: Database, sql: str, **params: Any) -> Any:
    async with db.engine.connect() as conn:
        return (await conn.execute(text(sql), params)).scalar()


async def rows(db: Database, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    async with db.engine.connect() as conn:
        return [tuple(r) for r in (await conn.execute(text(sql), params)).all()]


def line_of(content: str, fragment: str) -> int:
    """The 1-based line where ``fragment`` (which must occur once) starts."""
    assert content.count(fragment) == 1, f"{fragment!r} occurs {content.count(fragment)} times"
    return content[: content.index(fragment)].count("\n") + 1
