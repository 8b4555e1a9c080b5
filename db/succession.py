"""What happens to a unit's open business on the day it closes: the one place that says so.

A closing unit either merges into a successor or ends without one. ``settle``
runs ``STEPS`` in order for one closure, inside the caller's transaction; each
step only touches what is still open, so running it again changes nothing.

==============  ========================================  ===============================
what            merged (has a successor)                  ended (no successor)
==============  ========================================  ===============================
assignments     open ones pass to the successor: one      closed with their last status
                assignment per task, targets combined     (``closed_on``); the check-ins
                (count: sum, percent: the highest),       stay, so the roll-up for the
                deadline the earliest, notes kept;        time before the date stays
                done ones close as done                   visible under the parent
role grants     move to the successor (same role)         end; every admin above gets one
                                                          message (``db.reorganize``)
open tips       move to the successor's inbox, with a     move to the nearest open unit
                ``moved`` event in their history          above, with the same event
open invites    move to the successor                     revoked
==============  ========================================  ===============================

Reminders need no step: they skip assignments with ``closed_on`` set. Check-ins,
closed tips and the unit row itself are never rewritten. A new kind of thing that
belongs to a unit (citizens' subscriptions, say) is one more step in ``STEPS``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.checkins import _progress_select, _row
from db.members import grant_role, revoke_role
from db.models import (
    Assignment,
    Invite,
    Member,
    Role,
    RoleGrant,
    TaskKind,
    Tip,
    TipEvent,
    TipStatus,
    Unit,
)
from db.tips import EventKind


@dataclass(frozen=True)
class Closure:
    """``unit`` closes ``on`` that day; its work passes to ``successor`` (None: it ends)."""

    unit: Unit
    successor: Unit | None
    on: dt.date


@dataclass(frozen=True)
class MovedAssignment:
    task_code: str
    from_unit: str
    to_unit: str
    target: Decimal | None


@dataclass(frozen=True)
class ClosedAssignment:
    task_code: str
    unit: str
    status: str  # db.checkins.Progress on the last day before the closure


@dataclass(frozen=True)
class MovedGrant:
    member_id: int
    member_name: str
    role: str
    from_unit: str
    to_unit: str | None  # None: the grant ended


@dataclass(frozen=True)
class MovedTip:
    tip_id: int
    from_unit: str
    to_unit: str


@dataclass(frozen=True)
class MovedInvite:
    invite_id: int
    from_unit: str
    to_unit: str | None  # None: revoked


@dataclass
class Changes:
    """Everything one reorganisation did (or, in a dry run, would do), in order."""

    opened: list[tuple[str, str, dt.date]] = field(default_factory=list)  # code, name, date
    closed: list[tuple[str, str | None, dt.date]] = field(default_factory=list)
    assignments_moved: list[MovedAssignment] = field(default_factory=list)
    assignments_closed: list[ClosedAssignment] = field(default_factory=list)
    grants: list[MovedGrant] = field(default_factory=list)
    tips: list[MovedTip] = field(default_factory=list)
    invites: list[MovedInvite] = field(default_factory=list)
    # grants that ended, with the unit they were on: (grant, unit id)
    ended_grants: list[tuple[MovedGrant, int]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (
            self.opened
            or self.closed
            or self.assignments_moved
            or self.assignments_closed
            or self.grants
            or self.tips
            or self.invites
        )

    def counts(self) -> dict[str, int]:
        return {
            "units_opened": len(self.opened),
            "units_closed": len(self.closed),
            "assignments_moved": len(self.assignments_moved),
            "assignments_closed": len(self.assignments_closed),
            "grants_moved": sum(1 for g in self.grants if g.to_unit is not None),
            "grants_ended": sum(1 for g in self.grants if g.to_unit is None),
            "tips_moved": len(self.tips),
            "invites_moved": sum(1 for i in self.invites if i.to_unit is not None),
            "invites_revoked": sum(1 for i in self.invites if i.to_unit is None),
        }


Step = Callable[[AsyncSession, Closure, Changes, dt.datetime], Awaitable[None]]


# --- assignments -------------------------------------------------------------------


def _combined_target(kind: str, a: Decimal | None, b: Decimal | None) -> Decimal | None:
    if a is None or b is None:
        return a if b is None else b
    return a + b if kind == TaskKind.COUNT else max(a, b)


def _combined_note(a: str | None, b: str | None) -> str | None:
    if not a or not b or b in a.split("\n"):
        return a or b
    return f"{a}\n{b}"


async def move_assignments(
    session: AsyncSession, c: Closure, changes: Changes, now: dt.datetime
) -> None:
    """Open assignments pass to the successor (or close); done ones close as they stand."""
    last_day = c.on - dt.timedelta(days=1)
    stmt = _progress_select().where(Assignment.unit_id == c.unit.id, Assignment.closed_on.is_(None))
    for row in [_row(r) for r in (await session.execute(stmt.order_by(Assignment.id))).all()]:
        recurring = row.kind == TaskKind.RECURRING and row.deadline >= c.on
        still_owed = recurring or not row.is_done(last_day)
        if c.successor is None or not still_owed:
            await session.execute(
                update(Assignment).where(Assignment.id == row.assignment_id).values(closed_on=c.on)
            )
            status = row.progress(last_day).value
            changes.assignments_closed.append(ClosedAssignment(row.task_code, c.unit.code, status))
            continue
        mine = await session.get(Assignment, row.assignment_id)
        assert mine is not None
        theirs = (
            await session.execute(
                select(Assignment).where(
                    Assignment.task_id == row.task_id, Assignment.unit_id == c.successor.id
                )
            )
        ).scalar_one_or_none()
        if theirs is None:
            theirs = Assignment(
                task_id=row.task_id,
                unit_id=c.successor.id,
                target=mine.target,
                deadline=mine.deadline,
                note=mine.note,
                inferred=mine.inferred,
            )
            session.add(theirs)
        else:
            theirs.target = _combined_target(row.kind, theirs.target, mine.target)
            theirs.deadline = min(theirs.deadline, mine.deadline)
            theirs.note = _combined_note(theirs.note, mine.note)
            theirs.inferred = theirs.inferred and mine.inferred
            theirs.closed_on = None
        await session.flush()
        mine.closed_on = c.on
        mine.moved_to_id = theirs.id
        changes.assignments_moved.append(
            MovedAssignment(row.task_code, c.unit.code, c.successor.code, theirs.target)
        )
    await session.flush()


# --- role grants -----------------------------------------------------------------------


async def move_grants(
    session: AsyncSession, c: Closure, changes: Changes, now: dt.datetime
) -> None:
    """Grants move to the successor; with none, they end (and are listed for the admins)."""
    stmt = (
        select(RoleGrant.member_id, RoleGrant.role, Member.full_name)
        .join(Member, Member.id == RoleGrant.member_id)
        .where(RoleGrant.unit_id == c.unit.id, RoleGrant.revoked_at.is_(None))
        .order_by(RoleGrant.id)
    )
    for member_id, role, name in (await session.execute(stmt)).all():
        await revoke_role(session, member_id, c.unit.id, Role(role), revoked_by=None, now=now)
        to = c.successor
        if to is not None:
            await grant_role(session, member_id, to.id, Role(role), granted_by=None)
        grant = MovedGrant(member_id, name, role, c.unit.code, to.code if to else None)
        changes.grants.append(grant)
        if to is None:
            changes.ended_grants.append((grant, c.unit.id))


# --- tips ------------------------------------------------------------------------------


async def nearest_open_above(session: AsyncSession, unit: Unit) -> Unit | None:
    """The closest ancestor of ``unit`` that is still open (following its own successor)."""
    parent_id = unit.parent_id
    while parent_id is not None:
        parent = await session.get(Unit, parent_id)
        if parent is None:
            return None
        if parent.valid_to is None:
            return parent
        if parent.replaced_by_id is not None:
            successor = await session.get(Unit, parent.replaced_by_id)
            if successor is not None and successor.valid_to is None:
                return successor
        parent_id = parent.parent_id
    return None


async def move_tips(session: AsyncSession, c: Closure, changes: Changes, now: dt.datetime) -> None:
    """Open tips go to the successor's inbox (or the nearest open unit above), noted."""
    to = c.successor or await nearest_open_above(session, c.unit)
    if to is None:
        return
    stmt = (
        update(Tip)
        .where(Tip.unit_id == c.unit.id, Tip.status != TipStatus.CLOSED.value)
        .values(unit_id=to.id)
        .returning(Tip.id)
    )
    moved = sorted((await session.execute(stmt)).scalars().all())
    for tip_id in moved:
        session.add(
            TipEvent(
                tip_id=tip_id,
                actor_member_id=None,
                kind=EventKind.MOVED,
                public=False,
                data={
                    "from_unit_id": c.unit.id,
                    "from": c.unit.name,
                    "to_unit_id": to.id,
                    "to": to.name,
                    "on": c.on.isoformat(),
                },
                at=now,
            )
        )
        changes.tips.append(MovedTip(tip_id, c.unit.code, to.code))


# --- invites ---------------------------------------------------------------------------


async def move_invites(
    session: AsyncSession, c: Closure, changes: Changes, now: dt.datetime
) -> None:
    """Unused invites follow the successor; with none, they are revoked."""
    open_invites = (
        Invite.unit_id == c.unit.id,
        Invite.revoked_at.is_(None),
        Invite.uses < Invite.max_uses,
        Invite.expires_at > now,
    )
    if c.successor is not None:
        stmt = update(Invite).where(*open_invites).values(unit_id=c.successor.id)
    else:
        stmt = update(Invite).where(*open_invites).values(revoked_at=now)
    ids = sorted((await session.execute(stmt.returning(Invite.id))).scalars().all())
    to = c.successor.code if c.successor is not None else None
    changes.invites.extend(MovedInvite(i, c.unit.code, to) for i in ids)


# Issue 14 (citizens' subscriptions): add ``move_subscriptions`` here.
STEPS: tuple[Step, ...] = (move_assignments, move_grants, move_tips, move_invites)


async def settle(
    session: AsyncSession, closure: Closure, changes: Changes, now: dt.datetime
) -> None:
    """Run every step for one closed unit (idempotent)."""
    for step in STEPS:
        await step(session, closure, changes, now)
