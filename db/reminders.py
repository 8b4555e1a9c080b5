"""Queries behind the reminders: what may be due, who hears about it, who snoozed.

Repositories never commit; the caller's unit of work does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from sqlalchemy import ColumnElement, and_, delete, or_, select, true
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.checkins import AssignmentProgress, _progress_select, _row
from db.models import Assignment, Identity, ReminderSnooze, Role, RoleGrant, Task, TaskKind
from db.plan_years import current_year, reminder_years


async def _years(session: AsyncSession, today: dt.date) -> ColumnElement[bool]:
    """This year's plan, and last year's reports still open (see ``db.plan_years``)."""
    current = await current_year(session, today)
    return reminder_years(current) if current is not None else true()


async def reminder_candidates(
    session: AsyncSession,
    today: dt.date,
    *,
    horizon_days: int,
    overdue_max_days: int,
    also_ids: Iterable[int] = (),
) -> list[AssignmentProgress]:
    """Assignments that may owe a reminder today, each with its latest check-in.

    Those due within ``horizon_days`` or overdue by at most ``overdue_max_days``,
    and every recurring assignment still running (its due date is the end of the
    current period, not the assignment's deadline); and the ``also_ids`` (snoozes ending).
    """
    stmt = _progress_select().where(
        Assignment.closed_on.is_(None),
        await _years(session, today),
        or_(
            Assignment.deadline.between(
                today - dt.timedelta(days=overdue_max_days),
                today + dt.timedelta(days=horizon_days),
            ),
            and_(Task.kind == TaskKind.RECURRING.value, Assignment.deadline >= today),
            Assignment.id.in_(sorted(set(also_ids))),
        ),
    )
    return [_row(r) for r in (await session.execute(stmt.order_by(Assignment.id))).all()]


async def active_assignments(session: AsyncSession, today: dt.date) -> list[AssignmentProgress]:
    """Every assignment whose deadline has not passed, with its latest check-in."""
    stmt = (
        _progress_select()
        .where(
            Assignment.deadline >= today,
            Assignment.closed_on.is_(None),
            await _years(session, today),
        )
        .order_by(Assignment.deadline)
    )
    return [_row(r) for r in (await session.execute(stmt)).all()]


async def recipients_by_unit(
    session: AsyncSession, unit_ids: Iterable[int], roles: Sequence[Role]
) -> dict[int, list[Identity]]:
    """Reachable identities of members holding one of ``roles`` on exactly each unit."""
    ids = sorted(set(unit_ids))
    if not ids:
        return {}
    stmt = (
        select(RoleGrant.unit_id, Identity)
        .join(Identity, Identity.member_id == RoleGrant.member_id)
        .where(
            RoleGrant.unit_id.in_(ids),
            RoleGrant.role.in_([r.value for r in roles]),
            RoleGrant.revoked_at.is_(None),
            Identity.blocked_at.is_(None),
        )
        .order_by(RoleGrant.unit_id, Identity.id)
    )
    found: dict[int, dict[int, Identity]] = {}
    for unit_id, identity in (await session.execute(stmt)).all():
        found.setdefault(unit_id, {})[identity.id] = identity
    return {unit_id: list(people.values()) for unit_id, people in found.items()}


async def snoozes(session: AsyncSession, since: dt.date) -> dict[tuple[int, int], dt.date]:
    """(identity id, assignment id) -> the day reminders resume, for snoozes ending ≥ ``since``."""
    stmt = select(
        ReminderSnooze.identity_id, ReminderSnooze.assignment_id, ReminderSnooze.until
    ).where(ReminderSnooze.until >= since)
    return {(i, a): until for i, a, until in (await session.execute(stmt)).all()}


async def snooze(
    session: AsyncSession, identity_id: int, assignment_id: int, until: dt.date
) -> None:
    """No reminder of ``assignment_id`` to ``identity_id`` before ``until`` (then one again)."""
    stmt = insert(ReminderSnooze).values(
        identity_id=identity_id, assignment_id=assignment_id, until=until
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["identity_id", "assignment_id"], set_={"until": stmt.excluded.until}
        )
    )


async def forget_snoozes(session: AsyncSession, before: dt.date) -> int:
    """Drop snoozes that ended before ``before``; how many."""
    result = await session.execute(
        delete(ReminderSnooze).where(ReminderSnooze.until < before).returning(ReminderSnooze.until)
    )
    return len(result.all())
