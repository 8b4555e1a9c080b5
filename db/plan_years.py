"""Plans by year: which year's plan is current, and what each view and reminder reads.

Each year's plan is its own ``plan`` row (its own code, e.g. ``KH-2026-NGHE-AN``), so
importing next year's plan leaves this year's tasks, assignments, check-ins and reports
as they are. The *current* plan year on a day is the latest plan year not after that
day's year (so the 2025 plan stays current in 2026 until a 2026 plan is imported).

=========================  ====================================================
what                       reads
=========================  ====================================================
/progress, My tasks,       the current year's plan by default; last year's on
digest                     request (a button)
deadline reminders         the current year's assignments, plus last year's
                           reports (kind ``report``) until they are submitted
                           or closed
exports                    every year (a date range picks the check-ins)
=========================  ====================================================

Re-using a plan code for another year would rewrite last year's plan in place, so
``year_problem`` refuses it at import.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Assignment, Plan, Task, TaskKind
from handlers.i18n import _


async def plan_years(session: AsyncSession) -> list[int]:
    """The years that have a plan, oldest first."""
    return list((await session.scalars(select(Plan.year).distinct().order_by(Plan.year))).all())


def current_of(years: list[int], today: dt.date) -> int | None:
    """The latest of ``years`` not after ``today``'s year (else the earliest; None if none)."""
    earlier = [y for y in years if y <= today.year]
    if earlier:
        return max(earlier)
    return min(years) if years else None


async def current_year(session: AsyncSession, today: dt.date) -> int | None:
    return current_of(await plan_years(session), today)


def in_year(year: int) -> ColumnElement[bool]:
    """A WHERE clause on ``Assignment``: its task belongs to a plan of ``year``."""
    plans = select(Plan.id).where(Plan.year == year)
    return Assignment.task_id.in_(select(Task.id).where(Task.plan_id.in_(plans)))


def reminder_years(current: int) -> ColumnElement[bool]:
    """The current year's assignments, and last year's reports (the caller skips done ones)."""
    last_year_reports = select(Task.id).where(
        Task.plan_id.in_(select(Plan.id).where(Plan.year == current - 1)),
        Task.kind == TaskKind.REPORT.value,
    )
    return or_(in_year(current), Assignment.task_id.in_(last_year_reports))


async def year_problem(session: AsyncSession, code: str, year: int) -> str | None:
    """Why a plan ``code`` of ``year`` may not be imported (it exists for another year)."""
    stored = await session.scalar(select(Plan.year).where(Plan.code == code))
    if stored is None or stored == year:
        return None
    return _(
        "plan {code} is the {stored} plan; give the {year} plan its own code"
        " so that the {stored} plan and its reports stay as they are"
    ).format(code=code, stored=stored, year=year)
