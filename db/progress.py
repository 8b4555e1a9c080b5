"""The plan's progress under one unit, per task, in one SQL query.

Each assignment in the subtree is joined to its latest check-in (the newest row
no other row supersedes) through ``LEFT JOIN LATERAL (... ORDER BY created_at
DESC, id DESC LIMIT 1)``, backed by ``ix_checkin_assignment_created_id``; counts and
the nearest open deadline are aggregates with ``FILTER``. An assignment is done
when its latest check-in says so for its task's kind:

| kind      | done when the latest check-in ...                               |
| --------- | --------------------------------------------------------------- |
| milestone | has status ``done``                                             |
| recurring | has status ``done`` for the current period (as ``db.checkins``) |
|           | (no cadence in the text: has status ``done``)                   |
| report    | has status ``submitted`` or ``done``                            |
| count     | has a value >= target                                           |
| percent   | has a share >= target: value * 100 / eligible, or the value     |

Percent tasks with a ``recognition`` kind are done from the register instead (as
``db.checkins``); retired assignments are left out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, case, exists, false, func, not_, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from db.checkins import period_key
from db.models import Assignment, Checkin, Plan, Task, TaskKind, Unit
from db.register import register_share


@dataclass(frozen=True)
class TaskProgress:
    """One task under a unit: how many assignments, checked in, done; nearest open deadline."""

    task_id: int
    code: str
    kind: str
    title_vi: str
    title_en: str
    is_reporting: bool
    assignments: int
    checked_in: int
    done: int
    next_deadline: dt.date | None

    def title(self, lang: str) -> str:
        return self.title_en if lang == "en" and self.title_en else self.title_vi


async def province_progress(
    session: AsyncSession,
    root_code: str = "nghe-an",
    *,
    today: dt.date,
    plan_code: str | None = None,
) -> list[TaskProgress]:
    """Per task (plan order), the progress of the assignments of units under ``root_code``.

    ``today`` (a local date) picks the current period of recurring tasks.
    ``next_deadline`` is the earliest deadline among assignments not yet done (overdue
    ones included); None when all are done. An unknown root gives an empty list.
    """
    cadences = (await session.scalars(select(Task.cadence).distinct())).all()
    current_period = case(
        {cadence: period_key(cadence, today) for cadence in cadences if cadence is not None},
        value=Task.cadence,
        else_=period_key(None, today),
    )
    newer = aliased(Checkin)
    latest = (
        select(
            Checkin.id.label("checkin_id"),
            Checkin.status,
            Checkin.value,
            Checkin.eligible,
            Checkin.period,
        )
        .where(
            Checkin.assignment_id == Assignment.id,
            ~exists().where(newer.supersedes_id == Checkin.id),
        )
        .order_by(Checkin.created_at.desc(), Checkin.id.desc())
        .limit(1)
        .lateral("latest")
    )
    share = case(
        (latest.c.eligible > 0, latest.c.value * 100 / latest.c.eligible),
        else_=latest.c.value,
    )
    register = register_share().lateral("register")
    register_pct = case(
        (register.c.base > 0, register.c.achieved * 100.0 / register.c.base), else_=100
    )
    done = func.coalesce(
        case(
            (
                and_(
                    Task.kind == TaskKind.PERCENT.value,
                    Task.recognition.is_not(None),
                    register.c.communes > 0,
                ),
                register_pct >= func.coalesce(Assignment.target, 100),
            ),
            (Task.kind == TaskKind.COUNT.value, latest.c.value >= Assignment.target),
            (Task.kind == TaskKind.PERCENT.value, share >= Assignment.target),
            (
                Task.kind == TaskKind.REPORT.value,
                latest.c.status.in_(("submitted", "done")),
            ),
            (
                Task.kind == TaskKind.RECURRING.value,
                and_(
                    latest.c.status == "done",
                    or_(Task.cadence.is_(None), latest.c.period == current_period),
                ),
            ),
            else_=latest.c.status == "done",
        ),
        false(),
    )
    root = aliased(Unit, name="root")
    root_path = select(root.path).where(root.code == root_code).scalar_subquery()
    stmt = (
        select(
            Task.id.label("task_id"),
            Task.code,
            Task.kind,
            Task.title_vi,
            Task.title_en,
            Task.is_reporting,
            func.count().label("assignments"),
            func.count(latest.c.checkin_id).label("checked_in"),
            func.count().filter(done).label("done"),
            func.min(Assignment.deadline).filter(not_(done)).label("next_deadline"),
        )
        .select_from(Task)
        .join(Assignment, Assignment.task_id == Task.id)
        .join(Unit, Unit.id == Assignment.unit_id)
        .outerjoin(latest, true())
        .outerjoin(register, true())
        # an assignment passed to a successor is counted there, not twice
        .where(
            Unit.path.startswith(root_path),
            Assignment.moved_to_id.is_(None),
            Assignment.retired_at.is_(None),
        )
        .group_by(Task.id)
        .order_by(Task.plan_id, Task.sort, Task.id)
    )
    if plan_code is not None:
        stmt = stmt.join(Plan, and_(Plan.id == Task.plan_id, Plan.code == plan_code))
    rows = (await session.execute(stmt)).all()
    return [TaskProgress(**row._mapping) for row in rows]
