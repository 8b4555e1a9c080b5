"""The register of recognised units: recognitions, their status history, and the shares
of the plan's percent targets computed from it.

A recognition (``Recognition``) is one decision recognising a unit as a model
("điển hình, kiểu mẫu", at Ministry, province or district level), drug-free
("sạch về ma túy"), "An toàn về an ninh, trật tự", or meeting the new-rural
security criterion. Its history (``RecognitionEvent``) is append-only: recognised,
maintained, spread, under re-appraisal, closed, revoked; the recognition's
``status`` is its latest event's and ``ended_on`` the day it was closed or revoked.

A unit *holds* a kind on day D when one of its recognitions of that kind was
decided before D and had not ended by D. A percent task with a ``recognition``
kind is measured over the commune-level units below the owing unit that did not
hold it on 1 January of the plan year ("đơn vị cấp xã còn lại"); the achieved
count is how many of those hold it now.

Repositories never commit; the caller's unit of work does.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from db.models import (
    COMMUNE_LEVEL,
    ENDED_STATUSES,
    Plan,
    Recognition,
    RecognitionEvent,
    RecognitionStatus,
    Task,
    Unit,
)
from db.units import in_subtree


def holds(
    unit_id: Any,
    kind: Any,
    day: Any,
) -> ColumnElement[bool]:
    """SQL: the unit held a recognition of ``kind`` on ``day``."""
    r = aliased(Recognition)
    # correlate_except: the unit, task and plan come from the enclosing queries, however deep
    return (
        exists()
        .where(
            r.unit_id == unit_id,
            r.kind == kind,
            r.decided_on < day,
            or_(r.ended_on.is_(None), r.ended_on >= day),
        )
        .correlate_except(r)
    )


def holds_now(unit_id: Any, kind: Any) -> ColumnElement[bool]:
    r = aliased(Recognition)
    return (
        exists()
        .where(r.unit_id == unit_id, r.kind == kind, r.ended_on.is_(None))
        .correlate_except(r)
    )


def register_share() -> Select[*tuple[Any, ...]]:
    """A LATERAL subquery (``communes``, ``base``, ``achieved``) for the row's Task and Unit.

    ``communes``: active commune-level units below the unit; ``base``: those that did
    not hold the task's recognition kind on 1 January of the plan year; ``achieved``:
    those of the base holding it now. No work for tasks without a ``recognition`` kind
    (all counts 0). Correlates with ``Task`` and ``Unit`` of the enclosing query.
    """
    c = aliased(Unit, name="sub")
    year_start = (
        select(func.make_date(Plan.year, 1, 1))
        .where(Plan.id == Task.plan_id)
        .correlate_except(Plan)
        .scalar_subquery()
    )
    remaining = ~holds(c.id, Task.recognition, year_start)
    return select(
        func.count().label("communes"),
        func.count().filter(remaining).label("base"),
        func.count().filter(remaining, holds_now(c.id, Task.recognition)).label("achieved"),
    ).where(
        Task.recognition.is_not(None),
        # c.path LIKE unit.path || '%', written as the range the text_pattern_ops index serves
        c.path.op("~>=~", is_comparison=True)(Unit.path),
        c.path.op("~<~", is_comparison=True)(func.concat(Unit.path, "~")),
        c.id != Unit.id,
        c.kind.in_([k.value for k in COMMUNE_LEVEL]),
        or_(c.valid_to.is_(None), c.valid_to > func.current_date()),
    )


# --- reading and writing the register ------------------------------------------------


@dataclass(frozen=True)
class RecognitionRow:
    recognition_id: int
    unit_id: int
    unit_code: str
    unit_name: str
    kind: str
    level: str | None
    decided_by: str
    decision_no: str
    decided_on: dt.date
    status: str
    status_on: dt.date


async def recognitions_under(
    session: AsyncSession, root: Unit, *, kind: str | None = None, in_force: bool = False
) -> list[RecognitionRow]:
    """Recognitions of units in ``root``'s subtree, by unit path then date."""
    stmt = (
        select(
            Recognition.id,
            Unit.id,
            Unit.code,
            Unit.name,
            Recognition.kind,
            Recognition.level,
            Recognition.decided_by,
            Recognition.decision_no,
            Recognition.decided_on,
            Recognition.status,
            Recognition.status_on,
        )
        .join(Unit, Unit.id == Recognition.unit_id)
        .where(in_subtree(root.path))
        .order_by(Unit.path, Recognition.decided_on, Recognition.id)
    )
    if kind is not None:
        stmt = stmt.where(Recognition.kind == kind)
    if in_force:
        stmt = stmt.where(Recognition.ended_on.is_(None))
    return [RecognitionRow(*row) for row in (await session.execute(stmt)).all()]


async def count_in_force(
    session: AsyncSession, root: Unit, kind: str, *, include_root: bool = True
) -> int:
    """Units in ``root``'s subtree holding ``kind`` now."""
    stmt = (
        select(func.count(func.distinct(Recognition.unit_id)))
        .join(Unit, Unit.id == Recognition.unit_id)
        .where(in_subtree(root.path), Recognition.kind == kind, Recognition.ended_on.is_(None))
    )
    if not include_root:
        stmt = stmt.where(Unit.id != root.id)
    return int((await session.execute(stmt)).scalar_one())


async def add_event(
    session: AsyncSession,
    recognition: Recognition,
    status: str,
    on: dt.date,
    *,
    note: str | None = None,
    source: str = "bot",
    tip_id: int | None = None,
    actor_member_id: int | None = None,
) -> bool:
    """Append a status event (once per status and day) and move the recognition's status.

    Returns False when the same status on the same day is already recorded.
    """
    known = await session.scalar(
        select(
            exists().where(
                RecognitionEvent.recognition_id == recognition.id,
                RecognitionEvent.status == status,
                RecognitionEvent.on == on,
            )
        )
    )
    if known:
        return False
    session.add(
        RecognitionEvent(
            recognition_id=recognition.id,
            status=status,
            on=on,
            note=note,
            source=source,
            tip_id=tip_id,
            actor_member_id=actor_member_id,
        )
    )
    if on >= recognition.status_on or status in ENDED_STATUSES:
        recognition.status = status
        recognition.status_on = on
    if status in ENDED_STATUSES:
        recognition.ended_on = on
    elif status == RecognitionStatus.RECOGNISED.value and recognition.ended_on is not None:
        recognition.ended_on = None
    await session.flush()
    return True


async def drug_free_recognition(session: AsyncSession, unit_id: int) -> Recognition | None:
    """The unit's drug-free recognition in force, if any (newest decision first)."""
    stmt = (
        select(Recognition)
        .where(
            Recognition.unit_id == unit_id,
            Recognition.kind == "drug_free",
            Recognition.ended_on.is_(None),
        )
        .order_by(Recognition.decided_on.desc(), Recognition.id.desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()
