"""Migrations from empty to head and back, on real PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from bot.config import Settings
from db import audit, migrate
from db.checkins import append_checkin
from db.models import Assignment, Base, Plan, Task, utcnow
from db.sealed import ReporterLink
from db.session import Database
from db.tips import TipDraft, create_tip
from tests.integration.tip_helpers import make_world


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


async def _history_rows(db: Database) -> None:
    """One row in each history table: a check-in, a tip's events, an audit entry."""
    world = await make_world(db)
    settings = Settings(secret_key="test-secret-key")  # type: ignore[arg-type]
    async with db.sessions() as s:
        draft = TipDraft("drugs", "A tip.", world.units["nghi-huong"], "test", "chosen")
        await create_tip(s, settings, draft, ReporterLink(0, "test", "0"), now=utcnow())
        plan = Plan(code="KH", title_vi="Kế hoạch", title_en="Plan", year=2025)
        s.add(plan)
        await s.flush()
        task = Task(plan_id=plan.id, code="t1", kind="milestone", title_vi="Việc", title_en="")
        s.add(task)
        await s.flush()
        assignment = Assignment(
            task_id=task.id, unit_id=world.units["nghi-huong"], deadline=dt.date(2025, 5, 20)
        )
        s.add(assignment)
        await s.flush()
        await append_checkin(
            s,
            assignment_id=assignment.id,
            member_id=world.members["o-nh"],
            at=utcnow(),
            status="done",
        )
        audit.record(s, "x", actor_member_id=None, object_kind="tip", object_id=1, data={})
        await s.commit()


@pytest.mark.parametrize(
    ("table", "column", "value"),
    [
        ("checkin", "note", "'changed'"),
        ("tip_event", "text", "'changed'"),
        ("audit", "action", "'y'"),
    ],
)
async def test_checkin_history_is_append_only(
    db: Database, table: str, column: str, value: str
) -> None:
    """The database itself refuses to change or delete history rows (triggers)."""
    await _history_rows(db)
    async with db.engine.connect() as conn:
        assert await conn.scalar(text(f"SELECT count(*) FROM {table}")) >= 1
    for statement in (f"UPDATE {table} SET {column} = {value}", f"DELETE FROM {table}"):
        with pytest.raises(DBAPIError, match=f"{table} is append-only"):
            async with db.engine.begin() as conn:
                await conn.execute(text(statement))
    async with db.engine.connect() as conn:
        assert await conn.scalar(text(f"SELECT count(*) FROM {table}")) >= 1
