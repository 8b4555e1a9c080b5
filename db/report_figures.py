"""The figures a report collects (declared per reporting entry in the plan file).

A figure either has a ``source`` the system can count on its own (proposed to the
reporter, who confirms or corrects it) or is asked for. The values are kept per
report check-in in ``report_figure``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import exists, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from db.checkins import progress_in_subtree
from db.models import (
    Assignment,
    Checkin,
    Plan,
    ReportFigure,
    Task,
    Tip,
    TipStatus,
    Unit,
)
from db.register import count_in_force
from db.units import in_subtree

# What the system can count for a reporting unit's subtree, up to the report's day.
FIGURE_SOURCES = (
    "tips_received",  # tips received in the plan year
    "tips_closed",  # of which closed
    "checkins",  # progress check-ins made in the plan year
    "targets_met",  # assignments done
    "recognised_model",  # units recognised "điển hình, kiểu mẫu" (register, in force)
    "recognised_drug_free",  # units recognised "sạch về ma túy"
    "recognised_security_safe",  # units meeting "An toàn về an ninh, trật tự"
)

_RECOGNISED = {
    "recognised_model": "model",
    "recognised_drug_free": "drug_free",
    "recognised_security_safe": "security_safe",
}


def _year_bounds(year: int) -> tuple[dt.datetime, dt.datetime]:
    # local (UTC+7) 1 January to 1 January, in UTC
    start = dt.datetime(year, 1, 1, tzinfo=dt.UTC) - dt.timedelta(hours=7)
    end = dt.datetime(year + 1, 1, 1, tzinfo=dt.UTC) - dt.timedelta(hours=7)
    return start, end


async def propose(
    session: AsyncSession, unit: Unit, figures: list[dict[str, Any]], year: int, today: dt.date
) -> dict[str, int]:
    """What the system counts for the figures that have a ``source`` (code -> value)."""
    start, end = _year_bounds(year)
    found: dict[str, int] = {}
    for figure in figures:
        source = figure.get("source")
        if source is None:
            continue
        if source in _RECOGNISED:
            value = await count_in_force(session, unit, _RECOGNISED[source])
        elif source in ("tips_received", "tips_closed"):
            stmt = (
                select(func.count())
                .select_from(Tip)
                .join(Unit, Unit.id == Tip.unit_id)
                .where(in_subtree(unit.path), Tip.created_at >= start, Tip.created_at < end)
            )
            if source == "tips_closed":
                stmt = stmt.where(Tip.status == TipStatus.CLOSED.value)
            value = int((await session.execute(stmt)).scalar_one())
        elif source == "checkins":
            stmt = (
                select(func.count())
                .select_from(Checkin)
                .join(Assignment, Assignment.id == Checkin.assignment_id)
                .join(Unit, Unit.id == Assignment.unit_id)
                .where(in_subtree(unit.path), Checkin.created_at >= start, Checkin.created_at < end)
            )
            value = int((await session.execute(stmt)).scalar_one())
        elif source == "targets_met":
            rows = await progress_in_subtree(session, unit)
            value = sum(1 for r in rows if not r.is_reporting and r.is_done(today))
        else:  # pragma: no cover - the plan import checks the sources
            continue
        found[figure["code"]] = value
    return found


def save_figures(
    session: AsyncSession, checkin_id: int, values: dict[str, str], proposed: dict[str, int]
) -> None:
    """Keep the figures of a report check-in (values as entered, with what was proposed)."""
    for code, value in values.items():
        session.add(
            ReportFigure(
                checkin_id=checkin_id,
                code=code,
                value=Decimal(value),
                proposed=Decimal(proposed[code]) if code in proposed else None,
            )
        )


@dataclass(frozen=True)
class CompiledRow:
    """One reporting unit of a report: its figures (latest submission), or not reported."""

    unit_code: str
    unit_name: str
    submitted_at: dt.datetime | None
    figures: dict[str, Decimal]
    late: bool


@dataclass(frozen=True)
class CompiledReport:
    task_id: int
    code: str
    title_vi: str
    title_en: str
    deadline: dt.date | None
    figures: list[dict[str, Any]]
    rows: list[CompiledRow]

    def title(self, lang: str) -> str:
        return self.title_en if lang == "en" and self.title_en else self.title_vi

    @property
    def missing(self) -> list[CompiledRow]:
        return [r for r in self.rows if r.submitted_at is None]

    def total(self, code: str) -> Decimal:
        return sum((r.figures.get(code, Decimal(0)) for r in self.rows), Decimal(0))


async def reports_with_figures(session: AsyncSession) -> list[Task]:
    """The live reporting tasks that collect figures, in plan order."""
    stmt = (
        select(Task)
        .where(
            Task.is_reporting, Task.retired_at.is_(None), func.jsonb_array_length(Task.figures) > 0
        )
        .order_by(Task.plan_id, Task.sort)
    )
    return list((await session.execute(stmt)).scalars().all())


async def compile_report(session: AsyncSession, task: Task, root: Unit) -> CompiledReport:
    """Every live assignment of ``task`` under ``root``: the latest submission's figures."""
    newer = aliased(Checkin)
    latest = (
        select(Checkin.id, Checkin.created_at)
        .where(
            Checkin.assignment_id == Assignment.id,
            Checkin.status == "submitted",
            ~exists().where(newer.supersedes_id == Checkin.id),
        )
        .order_by(Checkin.created_at.desc(), Checkin.id.desc())
        .limit(1)
        .lateral("latest")
    )
    stmt = (
        select(Unit.code, Unit.name, Assignment.deadline, latest.c.id, latest.c.created_at)
        .select_from(Assignment)
        .join(Unit, Unit.id == Assignment.unit_id)
        .outerjoin(latest, true())
        .where(
            Assignment.task_id == task.id,
            Assignment.retired_at.is_(None),
            in_subtree(root.path),
        )
        .order_by(Unit.name, Unit.code)
    )
    found = (await session.execute(stmt)).all()
    ids = [r[3] for r in found if r[3] is not None]
    values: dict[int, dict[str, Decimal]] = {}
    if ids:
        figures = await session.execute(
            select(ReportFigure.checkin_id, ReportFigure.code, ReportFigure.value).where(
                ReportFigure.checkin_id.in_(ids)
            )
        )
        for checkin_id, code, value in figures.all():
            values.setdefault(checkin_id, {})[code] = value
    rows = []
    deadline = None
    for code, name, due, checkin_id, at in found:
        deadline = due
        late = at is not None and (at + dt.timedelta(hours=7)).date() > due
        rows.append(CompiledRow(code, name, at, values.get(checkin_id, {}), late))
    return CompiledReport(
        task.id, task.code, task.title_vi, task.title_en, deadline, list(task.figures), rows
    )


async def plan_year(session: AsyncSession, task_id: int) -> int:
    stmt = select(Plan.year).join(Task, Task.plan_id == Plan.id).where(Task.id == task_id)
    return int((await session.execute(stmt)).scalar_one())
