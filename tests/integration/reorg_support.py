"""Helpers for the reorganisation tests: a small tree with work on it, and running a mapping.

The tree is ``plan_fixtures.make_world``: Tỉnh Nghệ An > Huyện Nam Đàn (xa-a, xa-b,
xa-c, tt-d) and Huyện Con Cuông (xa-e). The usual mapping merges the four Nam Đàn
units into a new Xã Nam Mới under the province from 01/07/2025 and ends the district.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from pathlib import Path
from typing import Any

from sqlalchemy import text

from db.models import Tip, TipCategory, TipStatus, Unit
from db.reorg_file import read_mapping
from db.reorganize import Report, apply_due, reorganize
from db.session import Database, UnitOfWork
from handlers.unit_changes import notify_lost_roles

JULY_1 = dt.date(2025, 7, 1)
# 02/07/2025 08:00 in Asia/Ho_Chi_Minh
AFTER = dt.datetime(2025, 7, 2, 1, 0, tzinfo=dt.UTC)

HEADER = "old_code,new_code,effective_date,new_name,new_kind,new_parent\n"
MERGE_ALL = HEADER + (
    "xa-a,xa-moi,01/07/2025,Xã Nam Mới,commune,nghe-an\n"
    "xa-b,xa-moi,01/07/2025,,,\n"
    "xa-c,xa-moi,01/07/2025,,,\n"
    "tt-d,xa-moi,01/07/2025,,,\n"
    "nam-dan,,01/07/2025,,,\n"
)
_tip_codes = itertools.count(1)


def write(tmp_path: Path, content: str, name: str = "mapping.csv") -> Path:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8", newline="")
    return path


async def run_mapping(
    db: Database,
    path: Path,
    *,
    now: dt.datetime = AFTER,
    dry_run: bool = False,
) -> Report:
    """Apply (or dry-run) a mapping file as the CLI does, committing unless a dry run."""
    mapping = read_mapping(path, display_name=path.name)
    today = (now + dt.timedelta(hours=7)).date()
    async with UnitOfWork(db) as uow:
        report = await reorganize(uow.session, mapping, today=today, now=now, dry_run=dry_run)
        if not dry_run:
            await notify_lost_roles(uow.session, report.changes.ended_grants, now)
            await uow.commit()
    return report


async def run_due(db: Database, now: dt.datetime) -> list[Report]:
    today = (now + dt.timedelta(hours=7)).date()
    async with UnitOfWork(db) as uow:
        reports = await apply_due(uow.session, today, now)
        for report in reports:
            await notify_lost_roles(uow.session, report.changes.ended_grants, now)
        await uow.commit()
    return reports


async def add_tip(
    db: Database,
    unit: Unit,
    status: TipStatus = TipStatus.NEW,
    at: dt.datetime = dt.datetime(2025, 6, 20, 2, 0, tzinfo=dt.UTC),
) -> int:
    async with db.sessions() as s:
        if await s.get(TipCategory, "other") is None:
            s.add(TipCategory(code="other", title_vi="Khác", title_en="Other"))
            await s.flush()
        n = next(_tip_codes)
        tip = Tip(
            code_hash=hashlib.sha256(f"tip-{n}".encode()).hexdigest(),
            category="other",
            description=f"tin báo {n}",
            unit_id=unit.id,
            status=status.value,
            created_at=at,
        )
        s.add(tip)
        await s.commit()
        return tip.id


WRITTEN_TABLES = (
    "unit",
    "assignment",
    "checkin",
    "role_grant",
    "tip",
    "tip_event",
    "invite",
    "outbox",
    "audit",
    "reorganization",
)


async def dump(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table a reorganisation may write."""
    async with db.engine.connect() as conn:
        return {
            table: [
                tuple(r) for r in (await conn.execute(text(f"SELECT * FROM {table} ORDER BY 1")))
            ]
            for table in WRITTEN_TABLES
        }


async def rows(db: Database, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    async with db.engine.connect() as conn:
        return [tuple(r) for r in (await conn.execute(text(sql), params)).all()]
