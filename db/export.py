"""Queries behind exports: a subtree's check-ins and tips in a time range, streamed.

Columns are listed one by one: a tip row carries its number, times, category,
unit, place details, status, outcome, escalation level, whether the reporter is
anonymous, and its text. Never coordinates (a shared location may be where the
reporter stands), never ``tip_reporter``, never the reporter's own events.
Rows are streamed (a server-side cursor, ``yield_per``) so a province-wide
export of a year does not sit in memory. ``former`` widens a query to the subtrees
of the closed units merged into the root (``db.history``). Repositories never commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.history import under
from db.models import Assignment, Checkin, Member, Task, Tip, TipCategory, Unit

BATCH = 2000


class CheckinRow(NamedTuple):
    checkin_id: int
    created_at: dt.datetime
    unit_code: str
    unit_name: str
    title_vi: str
    title_en: str
    kind: str
    status: str | None
    value: Decimal | None
    eligible: int | None
    period: str | None
    note: str | None
    officer: str
    supersedes_id: int | None


class TipRow(NamedTuple):
    tip_id: int
    created_at: dt.datetime
    category: str
    category_vi: str
    category_en: str
    unit_code: str
    unit_name: str
    place_text: str | None
    status: str
    outcome: str | None
    acknowledged_at: dt.datetime | None
    closed_at: dt.datetime | None
    escalation_level: int
    anonymous: bool
    description: str


def _between(column: Any, start: dt.datetime | None, end: dt.datetime | None) -> list[Any]:
    where = []
    if start is not None:
        where.append(column >= start)
    if end is not None:
        where.append(column < end)
    return where


def _checkins(
    root: Unit,
    start: dt.datetime | None,
    end: dt.datetime | None,
    former: Sequence[str] = (),
) -> Select[*tuple[Any, ...]]:
    return (
        select(
            Checkin.id,
            Checkin.created_at,
            Unit.code,
            Unit.name,
            Task.title_vi,
            Task.title_en,
            Task.kind,
            Checkin.status,
            Checkin.value,
            Checkin.eligible,
            Checkin.period,
            Checkin.note,
            Member.full_name,
            Checkin.supersedes_id,
        )
        .join(Assignment, Assignment.id == Checkin.assignment_id)
        .join(Unit, Unit.id == Assignment.unit_id)
        .join(Task, Task.id == Assignment.task_id)
        .join(Member, Member.id == Checkin.member_id)
        .where(under(root, former), *_between(Checkin.created_at, start, end))
    )


def _tips(
    root: Unit,
    start: dt.datetime | None,
    end: dt.datetime | None,
    former: Sequence[str] = (),
) -> Select[*tuple[Any, ...]]:
    return (
        select(
            Tip.id,
            Tip.created_at,
            Tip.category,
            TipCategory.title_vi,
            TipCategory.title_en,
            Unit.code,
            Unit.name,
            Tip.place_text,
            Tip.status,
            Tip.outcome,
            Tip.acknowledged_at,
            Tip.closed_at,
            Tip.escalation_level,
            Tip.anonymous,
            Tip.description,
        )
        .join(Unit, Unit.id == Tip.unit_id)
        .join(TipCategory, TipCategory.code == Tip.category)
        .where(under(root, former), *_between(Tip.created_at, start, end))
    )


async def _count(session: AsyncSession, stmt: Select[*tuple[Any, ...]]) -> int:
    return int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)


async def count_checkins(
    session: AsyncSession,
    root: Unit,
    start: dt.datetime | None,
    end: dt.datetime | None,
    *,
    former: Sequence[str] = (),
) -> int:
    return await _count(session, _checkins(root, start, end, former))


async def count_tips(
    session: AsyncSession,
    root: Unit,
    start: dt.datetime | None,
    end: dt.datetime | None,
    *,
    former: Sequence[str] = (),
) -> int:
    return await _count(session, _tips(root, start, end, former))


async def checkins(
    session: AsyncSession,
    root: Unit,
    start: dt.datetime | None,
    end: dt.datetime | None,
    *,
    former: Sequence[str] = (),
) -> AsyncIterator[CheckinRow]:
    """Check-ins made under ``root`` (or a predecessor) in [start, end), oldest first
    (corrections included)."""
    stmt = _checkins(root, start, end, former).order_by(Checkin.created_at, Checkin.id)
    result = await session.stream(stmt.execution_options(yield_per=BATCH))
    async for row in result:
        yield CheckinRow(*row)


async def tips(
    session: AsyncSession,
    root: Unit,
    start: dt.datetime | None,
    end: dt.datetime | None,
    *,
    former: Sequence[str] = (),
) -> AsyncIterator[TipRow]:
    """Tips routed under ``root`` (or a predecessor) and received in [start, end), oldest
    first."""
    stmt = _tips(root, start, end, former).order_by(Tip.created_at, Tip.id)
    result = await session.stream(stmt.execution_options(yield_per=BATCH))
    async for row in result:
        yield TipRow(*row)
