"""Queries behind the supervisors' daily digest: a snapshot of one subtree at one moment.

For a root unit and ``now``, with ``since = now - 24 h``:

=========================================  =============================================
part                                       how (index)
=========================================  =============================================
new tips by category and status            ``tip.created_at`` in [since, now), joined to
                                           the unit by path (``ix_tip_created_at``)
tips still new after 24 hours              units under the root, then their new tips
                                           older than ``since`` (``ix_unit_path``,
                                           ``ix_tip_unit_status_created``); the count
                                           and the oldest few in one query
check-ins of the last 24 hours             the window's rows, each probing whether it
                                           was corrected (``ix_checkin_created_at`` or
                                           ``ix_checkin_assignment_created_id``,
                                           ``ix_checkin_supersedes_id``)
every assignment with its latest check-in  ``db.checkins.progress_in_subtree`` (one query)
the root's active children                 ``db.checkins.active_children``
closed units merged into the root          ``db.history.predecessors``: their subtrees
                                           join the tip and check-in windows above
=========================================  =============================================

Nothing here reads ``tip_reporter``, ``tip_event`` or a tip's text, so a digest
cannot name (or hint at) who sent a tip. Repositories never commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import distinct, exists, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from db.checkins import AssignmentProgress, active_children, progress_in_subtree
from db.history import predecessors, under
from db.models import (
    Assignment,
    Checkin,
    Identity,
    Outbox,
    Role,
    RoleGrant,
    Task,
    Tip,
    TipCategory,
    TipStatus,
    Unit,
)
from db.plan_years import current_year

WINDOW = dt.timedelta(hours=24)
LIST_LIMIT = 8  # stale tips and recent check-ins listed by name; the rest counted


def _title(vi: str, en: str, lang: str) -> str:
    return en if lang == "en" and en else vi


@dataclass(frozen=True)
class TipCount:
    """Tips of one category in one status (received in the window)."""

    category: str
    title_vi: str
    title_en: str
    status: str
    count: int

    def title(self, lang: str) -> str:
        return _title(self.title_vi, self.title_en, lang)


@dataclass(frozen=True)
class StaleTip:
    """A tip nobody has acknowledged yet, older than the window: no text, no reporter."""

    tip_id: int
    category: str
    title_vi: str
    title_en: str
    unit_name: str
    created_at: dt.datetime
    escalation_level: int

    def title(self, lang: str) -> str:
        return _title(self.title_vi, self.title_en, lang)


@dataclass(frozen=True)
class RecentCheckin:
    checkin_id: int
    created_at: dt.datetime
    unit_name: str
    title_vi: str
    title_en: str
    kind: str
    status: str | None
    value: Decimal | None
    eligible: int | None
    period: str | None
    target: Decimal | None

    def title(self, lang: str) -> str:
        return _title(self.title_vi, self.title_en, lang)


@dataclass(frozen=True)
class DigestData:
    """Everything one digest of one subtree shows, in no particular language."""

    root: Unit
    now: dt.datetime
    today: dt.date
    children: Sequence[Unit]
    new_tips: list[TipCount]
    stale_total: int
    stale: list[StaleTip]
    checkins_total: int
    checkin_units: int
    checkins: list[RecentCheckin]
    rows: list[AssignmentProgress]
    # closed units merged into the root: their tips and check-ins are counted here
    former: Sequence[Unit] = ()

    @property
    def since(self) -> dt.datetime:
        return self.now - WINDOW

    @property
    def new_tips_total(self) -> int:
        return sum(t.count for t in self.new_tips)


async def new_tips(
    session: AsyncSession,
    root: Unit,
    since: dt.datetime,
    until: dt.datetime,
    *,
    former: Sequence[str] = (),
) -> list[TipCount]:
    """Tips received under ``root`` in [since, until), per category (plan order) and status."""
    stmt = (
        select(
            Tip.category,
            TipCategory.title_vi,
            TipCategory.title_en,
            Tip.status,
            func.count(),
        )
        .join(Unit, Unit.id == Tip.unit_id)
        .join(TipCategory, TipCategory.code == Tip.category)
        .where(under(root, former), Tip.created_at >= since, Tip.created_at < until)
        .group_by(Tip.category, TipCategory.title_vi, TipCategory.title_en, TipCategory.sort)
        .group_by(Tip.status)
        .order_by(TipCategory.sort, Tip.category, Tip.status)
    )
    return [TipCount(*row) for row in (await session.execute(stmt)).all()]


async def stale_tips(
    session: AsyncSession,
    root: Unit,
    before: dt.datetime,
    *,
    limit: int = LIST_LIMIT,
    former: Sequence[str] = (),
) -> tuple[int, list[StaleTip]]:
    """(how many, the oldest ``limit``) tips under ``root`` still new and received before
    ``before``."""
    stmt = (
        select(
            Tip.id,
            Tip.category,
            TipCategory.title_vi,
            TipCategory.title_en,
            Unit.name,
            Tip.created_at,
            Tip.escalation_level,
            func.count().over(),
        )
        .join(Unit, Unit.id == Tip.unit_id)
        .join(TipCategory, TipCategory.code == Tip.category)
        .where(
            under(root, former),
            Tip.status == TipStatus.NEW.value,
            Tip.created_at < before,
        )
        .order_by(Tip.created_at, Tip.id)
        .limit(limit)
    )
    rows = (await session.execute(stmt)).all()
    total = int(rows[0][-1]) if rows else 0
    return total, [StaleTip(*row[:-1]) for row in rows]


async def recent_checkins(
    session: AsyncSession,
    root: Unit,
    since: dt.datetime,
    until: dt.datetime,
    *,
    limit: int = LIST_LIMIT,
    former: Sequence[str] = (),
) -> tuple[int, int, list[RecentCheckin]]:
    """(check-ins, units that checked in, the newest ``limit``) under ``root`` in the window.

    A check-in corrected since does not count. The window's rows (some 2,700 a day
    for a province) are read once into a materialized CTE, each with a per-row probe
    of ``ix_checkin_supersedes_id`` (a NOT EXISTS in WHERE would become an anti-join
    over that whole index instead); the counts and the newest few come from it in
    the same statement, so only those few rows leave the database.
    """
    newer = aliased(Checkin)
    window = (
        select(
            Checkin.id,
            Checkin.created_at,
            Unit.name,
            Task.title_vi,
            Task.title_en,
            Task.kind,
            Checkin.status,
            Checkin.value,
            Checkin.eligible,
            Checkin.period,
            Assignment.target,
            Assignment.unit_id,
            exists().where(newer.supersedes_id == Checkin.id).label("superseded"),
        )
        .join(Assignment, Assignment.id == Checkin.assignment_id)
        .join(Unit, Unit.id == Assignment.unit_id)
        .join(Task, Task.id == Assignment.task_id)
        .where(
            under(root, former),
            Checkin.created_at >= since,
            Checkin.created_at < until,
            Assignment.retired_at.is_(None),
        )
        .cte("in_window")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    live = ~window.c.superseded
    totals = (
        select(
            func.count().label("checkins"),
            func.count(distinct(window.c.unit_id)).label("units"),
        )
        .where(live)
        .subquery("totals")
    )
    newest = (
        select(*(c for c in window.c if c.name not in ("unit_id", "superseded")))
        .where(live)
        .order_by(window.c.created_at.desc(), window.c.id.desc())
        .limit(limit)
        .subquery("newest")
    )
    stmt = select(totals.c.checkins, totals.c.units, newest).select_from(
        totals.outerjoin(newest, true())
    )
    rows = (await session.execute(stmt)).all()
    total, units = (int(rows[0][0]), int(rows[0][1])) if rows else (0, 0)
    return total, units, [RecentCheckin(*row[2:]) for row in rows if row[2] is not None]


async def build_digest(
    session: AsyncSession, root: Unit, now: dt.datetime, today: dt.date
) -> DigestData:
    """The digest of ``root``'s subtree at ``now`` (``today``: the local date of ``now``)."""
    since = now - WINDOW
    former_units = await predecessors(session, root)
    former = [u.path for u in former_units]
    tips = await new_tips(session, root, since, now, former=former)
    stale_total, stale = await stale_tips(session, root, since, former=former)
    checkins_total, checkin_units, checkins = await recent_checkins(
        session, root, since, now, former=former
    )
    rows = await progress_in_subtree(session, root, year=await current_year(session, today))
    children = await active_children(session, root, today)
    return DigestData(
        root=root,
        now=now,
        today=today,
        children=children,
        new_tips=tips,
        stale_total=stale_total,
        stale=stale,
        checkins_total=checkins_total,
        checkin_units=checkin_units,
        checkins=checkins,
        rows=rows,
        former=former_units,
    )


# --- who gets a digest -------------------------------------------------------------


def outermost(units: Iterable[Unit]) -> list[Unit]:
    """The units not inside another of ``units`` (one digest covers a nested grant)."""
    kept: list[Unit] = []
    for unit in sorted(units, key=lambda u: (len(u.path), u.path)):
        if not any(unit.path.startswith(k.path) for k in kept):
            kept.append(unit)
    return kept


@dataclass(frozen=True)
class Recipient:
    identity: Identity
    roots: list[Unit]


async def supervisor_recipients(session: AsyncSession) -> list[Recipient]:
    """Every reachable identity of a member with an active supervisor grant, with the
    outermost units it supervises."""
    stmt = (
        select(Identity, Unit)
        .join(RoleGrant, RoleGrant.member_id == Identity.member_id)
        .join(Unit, Unit.id == RoleGrant.unit_id)
        .where(
            RoleGrant.role == Role.SUPERVISOR.value,
            RoleGrant.revoked_at.is_(None),
            Identity.blocked_at.is_(None),
        )
        .order_by(Identity.id, Unit.path)
    )
    found: dict[int, tuple[Identity, list[Unit]]] = {}
    for identity, unit in (await session.execute(stmt)).all():
        found.setdefault(identity.id, (identity, []))[1].append(unit)
    return [Recipient(identity, outermost(units)) for identity, units in found.values()]


async def existing_keys(session: AsyncSession, keys: Sequence[str]) -> set[str]:
    """The outbox dedup keys among ``keys`` already queued (so a job skips their work)."""
    if not keys:
        return set()
    stmt = select(Outbox.dedup_key).where(Outbox.dedup_key.in_(list(keys)))
    return set((await session.execute(stmt)).scalars().all())
