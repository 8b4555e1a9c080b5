"""A unit's history across reorganisations: the closed units it took over, and its scope.

History is never rewritten: check-ins and closed tips stay with the unit they were
made for. To show a successor's history, queries widen their unit filter from the
successor's subtree to it and its predecessors' subtrees (``HistoryScope``), and
name the predecessors ("including former Xã Nam Giang and Xã Kim Liên").
Predecessors are followed through ``replaced_by`` to any depth (A into B into C).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from db.checkins import AssignmentProgress, Rollup, _count, progress_in_subtree
from db.models import Unit
from db.units import in_subtree


@dataclass(frozen=True)
class HistoryScope:
    """A unit's subtree and those of the closed units merged into it."""

    root: Unit
    former: tuple[Unit, ...] = ()

    @property
    def paths(self) -> tuple[str, ...]:
        return (self.root.path, *(u.path for u in self.former))

    def clause(self) -> ColumnElement[bool]:
        """A WHERE clause on ``Unit``: inside the root's or a predecessor's subtree."""
        if not self.former:
            return in_subtree(self.root.path)  # type: ignore[no-any-return]
        return or_(*(in_subtree(p) for p in self.paths))


def under(root: Unit, former: Sequence[str]) -> ColumnElement[bool]:
    """Inside ``root``'s subtree, or a predecessor's (``former``: their paths)."""
    if not former:
        return in_subtree(root.path)  # type: ignore[no-any-return]
    return or_(in_subtree(root.path), *(in_subtree(p) for p in former))


async def predecessors(session: AsyncSession, unit: Unit) -> list[Unit]:
    """The closed units merged into ``unit``, directly or through others; by name."""
    merged = select(Unit.id, literal(1).label("hops")).where(Unit.replaced_by_id == unit.id)
    chain = merged.cte("chain", recursive=True)
    earlier = aliased(Unit)
    chain = chain.union(
        select(earlier.id, chain.c.hops + 1)
        .join(chain, earlier.replaced_by_id == chain.c.id)
        .where(chain.c.hops < 50)
    )
    stmt = select(Unit).where(Unit.id.in_(select(chain.c.id))).order_by(Unit.name, Unit.id)
    return [u for u in (await session.execute(stmt)).scalars().all() if u.id != unit.id]


async def history_scope(session: AsyncSession, unit: Unit) -> HistoryScope:
    return HistoryScope(unit, tuple(await predecessors(session, unit)))


async def closed_children(session: AsyncSession, unit: Unit) -> Sequence[Unit]:
    """Units directly below ``unit`` that have closed, latest closure first."""
    stmt = (
        select(Unit)
        .where(Unit.parent_id == unit.id, Unit.valid_to.is_not(None))
        .order_by(Unit.valid_to.desc(), Unit.name)
    )
    return (await session.execute(stmt)).scalars().all()


async def former_rollups(
    session: AsyncSession, units: Sequence[Unit]
) -> list[tuple[Unit, Rollup, list[AssignmentProgress]]]:
    """For each closed unit: its subtree's assignments as they stood on its last day."""
    result = []
    for unit in units:
        rows = await progress_in_subtree(session, unit, include_closed=True)
        last_day = (unit.valid_to or dt.date.max) - dt.timedelta(days=1)
        states = [r for r in rows if r.closed_on is not None]
        result.append((unit, _count(unit.id, unit.name, states, last_day), states))
    return result
