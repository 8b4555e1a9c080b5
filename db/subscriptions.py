"""Citizens' subscriptions to the announcements of a commune: every query about them.

Kept in one module so that a reorganisation of units (communes merged) has one
place to move subscriptions from, and so nothing else learns more about a
subscriber than delivery needs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Subscription, Unit
from db.units import in_subtree


def _day(now: dt.datetime) -> dt.datetime:
    """Midnight UTC of ``now``: a subscription's start, too coarse to join by time."""
    return dt.datetime.combine(now.astimezone(dt.UTC).date(), dt.time(), tzinfo=dt.UTC)


async def subscribe(
    session: AsyncSession, identity_id: int, unit_id: int, now: dt.datetime
) -> bool:
    """Subscribe the chat to the unit's announcements; False when it already was."""
    stmt = (
        insert(Subscription)
        .values(identity_id=identity_id, unit_id=unit_id, created_at=_day(now))
        .on_conflict_do_nothing()
        .returning(Subscription.unit_id)
    )
    return (await session.execute(stmt)).first() is not None


async def unsubscribe(session: AsyncSession, identity_id: int, unit_id: int | None = None) -> int:
    """End the chat's subscription to ``unit_id`` (or all of them); how many ended."""
    stmt = delete(Subscription).where(Subscription.identity_id == identity_id)
    if unit_id is not None:
        stmt = stmt.where(Subscription.unit_id == unit_id)
    result = await session.execute(stmt.returning(Subscription.unit_id))
    return len(result.all())


async def units_of(session: AsyncSession, identity_id: int) -> Sequence[Unit]:
    """The units whose announcements the chat receives, by name."""
    stmt = (
        select(Unit)
        .join(Subscription, Subscription.unit_id == Unit.id)
        .where(Subscription.identity_id == identity_id)
        .order_by(Unit.name)
    )
    return (await session.execute(stmt)).scalars().all()


def subscribers_under(root_path: str) -> Select[Any]:
    """The identity ids subscribed to a unit in the subtree at ``root_path`` (for fan-out)."""
    return (
        select(Subscription.identity_id)
        .join(Unit, Unit.id == Subscription.unit_id)
        .where(in_subtree(root_path))
    )


async def count_under(session: AsyncSession, root: Unit) -> int:
    stmt = select(func.count(func.distinct(Subscription.identity_id))).where(
        Subscription.identity_id.in_(subscribers_under(root.path))
    )
    return int(await session.scalar(stmt) or 0)
