"""Small plan fixtures for the check-in and progress tests: units, tasks, people.

Rows are inserted directly (not through the plan importer), with correct
materialised unit paths.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from db.models import (
    Assignment,
    Attachment,
    Checkin,
    Identity,
    Member,
    Plan,
    Role,
    RoleGrant,
    Task,
    TaskKind,
    Unit,
    UnitKind,
)
from db.session import Database
from db.units import child_path, fold
from handlers.engine import Engine
from tests.support import Clock, Person

# 2025-05-05 09:00 in Asia/Ho_Chi_Minh.
START = dt.datetime(2025, 5, 5, 2, 0, tzinfo=dt.UTC)
_codes = itertools.count(1)


def make_engine(db: Database, clock: Clock) -> Engine:
    return Engine(db, Settings(), clock=clock)  # type: ignore[call-arg]


async def add_unit(
    s: AsyncSession, code: str, name: str, kind: UnitKind, parent: Unit | None = None
) -> Unit:
    unit = Unit(
        code=code,
        name=name,
        name_search=fold(name),
        kind=kind.value,
        parent_id=parent.id if parent else None,
        depth=parent.depth + 1 if parent else 0,
    )
    s.add(unit)
    await s.flush()
    unit.path = child_path(parent.path if parent else None, unit.id)
    await s.flush()
    return unit


@dataclass(frozen=True)
class World:
    """Province > Nam Đàn (communes A, B, C and ward D) and Con Cuông (commune E)."""

    plan_id: int
    province: Unit
    district: Unit
    a: Unit
    b: Unit
    c: Unit
    d: Unit
    other_district: Unit
    e: Unit


async def make_world(db: Database) -> World:
    async with db.sessions() as s:
        province = await add_unit(s, "nghe-an", "Tỉnh Nghệ An", UnitKind.PROVINCE)
        district = await add_unit(s, "nam-dan", "Huyện Nam Đàn", UnitKind.DISTRICT, province)
        a = await add_unit(s, "xa-a", "Xã Nam Anh", UnitKind.COMMUNE, district)
        b = await add_unit(s, "xa-b", "Xã Nam Bình", UnitKind.COMMUNE, district)
        c = await add_unit(s, "xa-c", "Xã Nam Cát", UnitKind.COMMUNE, district)
        d = await add_unit(s, "tt-d", "Thị trấn Nam Đàn", UnitKind.WARD, district)
        other = await add_unit(s, "con-cuong", "Huyện Con Cuông", UnitKind.DISTRICT, province)
        e = await add_unit(s, "xa-e", "Xã Môn Sơn", UnitKind.COMMUNE, other)
        plan = Plan(code="KH-TEST", title_vi="Kế hoạch thử", title_en="Test plan", year=2025)
        s.add(plan)
        await s.flush()
        world = World(plan.id, province, district, a, b, c, d, other, e)
        await s.commit()
    return world


async def add_task(
    db: Database,
    world: World,
    kind: TaskKind,
    title_vi: str,
    title_en: str = "",
    *,
    cadence: str | None = None,
    sort: int = 0,
) -> int:
    async with db.sessions() as s:
        task = Task(
            plan_id=world.plan_id,
            code=f"t{next(_codes)}",
            kind=kind.value,
            title_vi=title_vi,
            title_en=title_en,
            cadence=cadence,
            sort=sort,
        )
        s.add(task)
        await s.commit()
        return task.id


async def assign(
    db: Database,
    task_id: int,
    unit: Unit,
    deadline: dt.date,
    target: float | None = None,
) -> int:
    async with db.sessions() as s:
        row = Assignment(
            task_id=task_id,
            unit_id=unit.id,
            deadline=deadline,
            target=Decimal(str(target)) if target is not None else None,
        )
        s.add(row)
        await s.commit()
        return row.id


async def enrol(
    db: Database,
    engine: Engine,
    user_id: str,
    unit: Unit,
    role: Role,
    *,
    name: str = "Nguyễn Văn A",
    language: str = "en",
) -> Person:
    """A registered person (identity, member, active grant) ready to talk to the engine."""
    async with db.sessions() as s:
        member = Member(full_name=name)
        s.add(member)
        await s.flush()
        s.add(
            Identity(
                member_id=member.id,
                channel="test",
                external_id=user_id,
                chat_id=user_id,
                display_name=name,
                language=language,
            )
        )
        s.add(RoleGrant(member_id=member.id, unit_id=unit.id, role=role.value))
        await s.commit()
    return Person(engine, user_id, name=name, language_code=language)


async def count(db: Database, model: type[Checkin] | type[Attachment]) -> int:
    async with db.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def checkins(db: Database) -> list[Checkin]:
    async with db.sessions() as s:
        return list((await s.execute(select(Checkin).order_by(Checkin.id))).scalars().all())
