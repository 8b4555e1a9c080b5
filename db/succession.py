"""What happens to a unit's open business on the day it closes: the one place that says so.

A closing unit either merges into a successor or ends without one. ``settle``
runs ``STEPS`` in order over the units that close on one day (each step works on
all of them at once, a few statements whatever their number), inside the caller's
transaction; each step only touches what is still open, so running it again
changes nothing.

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
subscriptions   move to the successor (citizens keep      end (the unit's announcements
                getting their commune's announcements)    end with it)
==============  ========================================  ===============================

Reminders need no step: they skip assignments with ``closed_on`` set. Check-ins,
closed tips and the unit row itself are never rewritten. A new kind of thing that
belongs to a unit is one more step in ``STEPS``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import case, delete, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db import audit
from db.checkins import _progress_select, _row
from db.models import (
    Assignment,
    Invite,
    Member,
    RoleGrant,
    Subscription,
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


@dataclass(frozen=True)
class MovedSubscriptions:
    """Citizens' subscriptions of a unit, counted (never who they are)."""

    from_unit: str
    to_unit: str | None  # None: they ended
    count: int


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
    subscriptions: list[MovedSubscriptions] = field(default_factory=list)
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
            or self.subscriptions
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
            "subscriptions_moved": sum(m.count for m in self.subscriptions if m.to_unit),
            "subscriptions_ended": sum(m.count for m in self.subscriptions if not m.to_unit),
        }


Step = Callable[[AsyncSession, Sequence[Closure], Changes, dt.datetime], Awaitable[None]]


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
    session: AsyncSession, closures: Sequence[Closure], changes: Changes, now: dt.datetime
) -> None:
    """Open assignments pass to the successor (or close); done ones close as they stand."""
    by_unit = {c.unit.id: c for c in closures}
    owed = (Assignment.unit_id.in_(list(by_unit)), Assignment.closed_on.is_(None))
    found = [_row(r) for r in (await session.execute(_progress_select().where(*owed))).all()]
    if not found:
        return
    mine = {a.id: a for a in (await session.execute(select(Assignment).where(*owed))).scalars()}
    successors = sorted({c.successor.id for c in closures if c.successor is not None})
    theirs: dict[tuple[int, int], Assignment] = {}
    if successors:
        stmt = select(Assignment).where(Assignment.unit_id.in_(successors))
        theirs = {(a.unit_id, a.task_id): a for a in (await session.execute(stmt)).scalars()}
    order = {uid: i for i, uid in enumerate(by_unit)}
    passed: list[tuple[Assignment, Assignment, str, Closure]] = []
    for row in sorted(found, key=lambda r: (order[r.unit_id], r.assignment_id)):
        c = by_unit[row.unit_id]
        last_day = c.on - dt.timedelta(days=1)
        old = mine[row.assignment_id]
        old.closed_on = c.on
        recurring = row.kind == TaskKind.RECURRING and row.deadline >= c.on
        still_owed = recurring or not row.is_done(last_day)
        if c.successor is None or not still_owed:
            status = row.progress(last_day).value
            changes.assignments_closed.append(ClosedAssignment(row.task_code, c.unit.code, status))
            continue
        new = theirs.get((c.successor.id, row.task_id))
        if new is None:
            new = theirs[(c.successor.id, row.task_id)] = Assignment(
                task_id=row.task_id,
                unit_id=c.successor.id,
                target=old.target,
                deadline=old.deadline,
                note=old.note,
                inferred=old.inferred,
            )
            session.add(new)
        else:
            new.target = _combined_target(row.kind, new.target, old.target)
            new.deadline = min(new.deadline, old.deadline)
            new.note = _combined_note(new.note, old.note)
            new.inferred = new.inferred and old.inferred
            new.closed_on = None
        passed.append((old, new, row.task_code, c))
    await session.flush()  # the new assignments get their ids
    for old, new, task_code, c in passed:
        assert c.successor is not None
        old.moved_to_id = new.id
        changes.assignments_moved.append(
            MovedAssignment(task_code, c.unit.code, c.successor.code, new.target)
        )
    await session.flush()


# --- role grants -----------------------------------------------------------------------


async def move_grants(
    session: AsyncSession, closures: Sequence[Closure], changes: Changes, now: dt.datetime
) -> None:
    """Grants move to the successor; with none, they end (and are listed for the admins).

    Audited like ``db.members.revoke_role``/``grant_role``, one row per grant.
    """
    by_unit = {c.unit.id: c for c in closures}
    stmt = (
        select(
            RoleGrant.id, RoleGrant.member_id, RoleGrant.unit_id, RoleGrant.role, Member.full_name
        )
        .join(Member, Member.id == RoleGrant.member_id)
        .where(RoleGrant.unit_id.in_(list(by_unit)), RoleGrant.revoked_at.is_(None))
    )
    order = {uid: i for i, uid in enumerate(by_unit)}
    found = sorted((await session.execute(stmt)).all(), key=lambda r: (order[r[2]], r[0]))
    if not found:
        return
    await session.execute(
        update(RoleGrant)
        .where(RoleGrant.id.in_([r[0] for r in found]))
        .values(revoked_at=now, revoked_by=None)
    )
    wanted: dict[tuple[int, int, str], None] = {}
    for grant_id, member_id, unit_id, role, name in found:
        c = by_unit[unit_id]
        to = c.successor
        audit.record(
            session,
            "role.revoke",
            actor_member_id=None,
            object_kind="member",
            object_id=member_id,
            data={"unit_id": unit_id, "role": role, "grant_ids": [grant_id], "reorganized": True},
        )
        if to is not None:
            wanted[(member_id, to.id, role)] = None
        grant = MovedGrant(member_id, name, role, c.unit.code, to.code if to else None)
        changes.grants.append(grant)
        if to is None:
            changes.ended_grants.append((grant, unit_id))
    if wanted:
        rows = [{"member_id": m, "unit_id": u, "role": r} for m, u, r in wanted]
        created = await session.execute(
            insert(RoleGrant)
            .values(rows)
            .on_conflict_do_nothing(
                index_elements=["member_id", "unit_id", "role"],
                index_where=RoleGrant.revoked_at.is_(None),
            )
            .returning(RoleGrant.id, RoleGrant.member_id, RoleGrant.unit_id, RoleGrant.role)
        )
        for grant_id, member_id, unit_id, role in created.all():
            audit.record(
                session,
                "role.grant",
                actor_member_id=None,
                object_kind="member",
                object_id=member_id,
                data={"unit_id": unit_id, "role": role, "grant_id": grant_id, "reorganized": True},
            )


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


async def move_tips(
    session: AsyncSession, closures: Sequence[Closure], changes: Changes, now: dt.datetime
) -> None:
    """Open tips go to the successor's inbox (or the nearest open unit above), noted."""
    by_unit = {c.unit.id: c for c in closures}
    stmt = (
        select(Tip.id, Tip.unit_id)
        .where(Tip.unit_id.in_(list(by_unit)), Tip.status != TipStatus.CLOSED.value)
        .order_by(Tip.id)
    )
    found = (await session.execute(stmt)).all()
    if not found:
        return
    targets: dict[int, Unit] = {}
    for unit_id in sorted({unit_id for _tip, unit_id in found}):
        c = by_unit[unit_id]
        to = c.successor or await nearest_open_above(session, c.unit)
        if to is not None:
            targets[unit_id] = to
    moving = [(tip_id, unit_id) for tip_id, unit_id in found if unit_id in targets]
    if not moving:
        return
    await session.execute(
        update(Tip)
        .where(Tip.id.in_([t for t, _u in moving]))
        .values(unit_id=case({u: to.id for u, to in targets.items()}, value=Tip.unit_id))
        .execution_options(synchronize_session=False)
    )
    order = {uid: i for i, uid in enumerate(by_unit)}
    for tip_id, unit_id in sorted(moving, key=lambda m: (order[m[1]], m[0])):
        c, to = by_unit[unit_id], targets[unit_id]
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
    session: AsyncSession, closures: Sequence[Closure], changes: Changes, now: dt.datetime
) -> None:
    """Unused invites follow the successor; with none, they are revoked."""
    by_unit = {c.unit.id: c for c in closures}
    stmt = (
        select(Invite.id, Invite.unit_id)
        .where(
            Invite.unit_id.in_(list(by_unit)),
            Invite.revoked_at.is_(None),
            Invite.uses < Invite.max_uses,
            Invite.expires_at > now,
        )
        .order_by(Invite.id)
    )
    found = (await session.execute(stmt)).all()
    moving = [i for i, u in found if by_unit[u].successor is not None]
    ending = [i for i, u in found if by_unit[u].successor is None]
    if moving:
        successor = {u: c.successor.id for u, c in by_unit.items() if c.successor is not None}
        await session.execute(
            update(Invite)
            .where(Invite.id.in_(moving))
            .values(unit_id=case(successor, value=Invite.unit_id))
            .execution_options(synchronize_session=False)
        )
    if ending:
        await session.execute(
            update(Invite)
            .where(Invite.id.in_(ending))
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )
    order = {uid: i for i, uid in enumerate(by_unit)}
    for invite_id, unit_id in sorted(found, key=lambda r: (order[r[1]], r[0])):
        c = by_unit[unit_id]
        to = c.successor.code if c.successor is not None else None
        changes.invites.append(MovedInvite(invite_id, c.unit.code, to))


# --- citizens' subscriptions ------------------------------------------------------------


async def move_subscriptions(
    session: AsyncSession, closures: Sequence[Closure], changes: Changes, now: dt.datetime
) -> None:
    """Subscribers follow the successor (once each); with none, their subscription ends."""
    for c in closures:
        count = await session.scalar(
            select(func.count()).select_from(Subscription).where(Subscription.unit_id == c.unit.id)
        )
        if not count:
            continue
        if c.successor is not None:
            await session.execute(
                insert(Subscription)
                .from_select(
                    ["identity_id", "unit_id", "created_at"],
                    select(
                        Subscription.identity_id,
                        literal(c.successor.id),
                        Subscription.created_at,
                    ).where(Subscription.unit_id == c.unit.id),
                )
                .on_conflict_do_nothing()
            )
        await session.execute(delete(Subscription).where(Subscription.unit_id == c.unit.id))
        to = c.successor.code if c.successor is not None else None
        changes.subscriptions.append(MovedSubscriptions(c.unit.code, to, int(count)))


STEPS: tuple[Step, ...] = (
    move_assignments,
    move_grants,
    move_tips,
    move_invites,
    move_subscriptions,
)


async def settle(
    session: AsyncSession, closures: Sequence[Closure], changes: Changes, now: dt.datetime
) -> None:
    """Run every step for the units closing on one day (idempotent)."""
    if closures:
        for step in STEPS:
            await step(session, closures, changes, now)
