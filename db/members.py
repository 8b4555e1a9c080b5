"""People: members, their channel identities, and role grants scoped to units."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Protocol

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from db import audit
from db.models import Identity, Member, Role, RoleGrant, Unit, utcnow
from db.sealed import coarse
from db.subscriptions import unsubscribe
from db.units import in_subtree


@dataclass(frozen=True, slots=True)
class UnitRecord:
    """A unit as a grant names it: its columns, read-only, outside any session."""

    id: int
    code: str
    name: str
    name_search: str
    kind: str
    parent_id: int | None
    path: str
    depth: int
    valid_from: dt.date | None
    valid_to: dt.date | None
    replaced_by_id: int | None
    lat: float | None
    lon: float | None
    note: str | None
    phone: str | None
    created_at: dt.datetime

    @classmethod
    def of(cls, unit: Unit) -> UnitRecord:
        """The record of a mapped ``Unit``."""
        return cls(*[getattr(unit, name) for name in UNIT_COLUMNS])

    def as_unit(self) -> Unit:
        """A detached ORM copy, for the code that takes a ``Unit`` (made only when asked:
        building ORM objects on every update cost more than its statement)."""
        unit = Unit(**{name: getattr(self, name) for name in UNIT_COLUMNS})
        make_transient_to_detached(unit)
        return unit


UNIT_COLUMNS = tuple(f.name for f in fields(UnitRecord))


@dataclass(frozen=True)
class Grant:
    """An active role of a member over a unit's subtree."""

    grant_id: int
    role: Role
    unit: UnitRecord


async def identity_for(
    session: AsyncSession,
    channel: str,
    external_id: str,
    *,
    chat_id: str | None = None,
    display_name: str = "",
    language: str | None = None,
) -> Identity:
    """Get or create the identity of (channel, external id) in one statement; race-free."""
    stmt = (
        insert(Identity)
        .values(
            channel=channel,
            external_id=external_id,
            chat_id=chat_id or external_id,
            display_name=display_name,
            language=language,
            created_at=coarse(utcnow()),
            last_seen_at=coarse(utcnow()),
        )
        .on_conflict_do_update(
            constraint="uq_identity_channel_external",
            set_={"last_seen_at": coarse(utcnow()), "blocked_at": None},
        )
        .returning(Identity)
    )
    result = await session.execute(stmt, execution_options={"populate_existing": True})
    return result.scalar_one()


class HasMember(Protocol):
    """An identity as the ORM or the engine holds it (``db.conversations.IdentityRecord``)."""

    id: int
    member_id: int | None


@dataclass(slots=True)
class MemberRecord:
    """The member behind an identity (a registered officer or force member)."""

    id: int
    full_name: str
    phone: str | None


# A member for an identity that has none, linked to it: one round trip.
_NEW_MEMBER = text(
    "WITH made AS (INSERT INTO member (full_name) VALUES (:name) RETURNING id, phone) "
    "UPDATE identity SET member_id = made.id FROM made WHERE identity.id = :identity_id "
    "RETURNING made.id, made.phone"
)


async def ensure_member(session: AsyncSession, identity: HasMember, full_name: str) -> MemberRecord:
    """The identity's member, created (with ``full_name``) and linked if it has none yet;
    an existing one is renamed to ``full_name`` (when given). One statement either way."""
    if identity.member_id is None:
        params = {"name": full_name, "identity_id": identity.id}
        member_id, phone = (await session.execute(_NEW_MEMBER, params)).one()
        identity.member_id = member_id
        return MemberRecord(member_id, full_name, phone)
    stmt = update(Member).where(Member.id == identity.member_id)
    if full_name:
        stmt = stmt.values(full_name=full_name)
    else:  # nothing to change: the row as it is
        stmt = stmt.values(full_name=Member.full_name)
    row = (
        await session.execute(
            stmt.returning(Member.id, Member.full_name, Member.phone),
            execution_options={"synchronize_session": False},
        )
    ).one()
    return MemberRecord(*row)


async def active_grants(session: AsyncSession, member_id: int) -> list[Grant]:
    columns = Unit.__table__.c
    stmt = (
        select(RoleGrant.id, RoleGrant.role, *[columns[name] for name in UNIT_COLUMNS])
        .join(Unit, Unit.id == RoleGrant.unit_id)
        .where(RoleGrant.member_id == member_id, RoleGrant.revoked_at.is_(None))
        .order_by(Unit.depth, RoleGrant.role)
    )
    rows = (await session.execute(stmt)).all()
    return [Grant(gid, Role(role), UnitRecord(*unit)) for gid, role, *unit in rows]


async def grant_role(
    session: AsyncSession,
    member_id: int,
    unit_id: int,
    role: Role,
    *,
    granted_by: int | None,
) -> bool:
    """Grant ``role`` over ``unit_id``; False when that grant is already active."""
    stmt = (
        insert(RoleGrant)
        .values(member_id=member_id, unit_id=unit_id, role=role.value, granted_by=granted_by)
        .on_conflict_do_nothing(
            index_elements=["member_id", "unit_id", "role"],
            index_where=RoleGrant.revoked_at.is_(None),
        )
        .returning(RoleGrant.id)
    )
    new_id = (await session.execute(stmt)).scalar_one_or_none()
    if new_id is None:
        return False
    audit.record(
        session,
        "role.grant",
        actor_member_id=granted_by,
        object_kind="member",
        object_id=member_id,
        data={"unit_id": unit_id, "role": role.value, "grant_id": new_id},
    )
    return True


async def revoke_role(
    session: AsyncSession,
    member_id: int,
    unit_id: int,
    role: Role,
    *,
    revoked_by: int | None,
    now: dt.datetime | None = None,
) -> bool:
    """Revoke an active grant; False when there was none."""
    stmt = (
        update(RoleGrant)
        .where(
            RoleGrant.member_id == member_id,
            RoleGrant.unit_id == unit_id,
            RoleGrant.role == role.value,
            RoleGrant.revoked_at.is_(None),
        )
        .values(revoked_at=now or utcnow(), revoked_by=revoked_by)
        .returning(RoleGrant.id)
    )
    revoked = (await session.execute(stmt)).scalars().all()
    if not revoked:
        return False
    audit.record(
        session,
        "role.revoke",
        actor_member_id=revoked_by,
        object_kind="member",
        object_id=member_id,
        data={"unit_id": unit_id, "role": role.value, "grant_ids": list(revoked)},
    )
    return True


@dataclass(frozen=True)
class MemberRow:
    member_id: int
    full_name: str
    role: str
    unit_code: str
    unit_name: str


async def members_in_subtree(session: AsyncSession, root: Unit | None) -> Sequence[MemberRow]:
    """Members with an active grant on a unit under ``root`` (all members when None)."""
    stmt = (
        select(Member.id, Member.full_name, RoleGrant.role, Unit.code, Unit.name)
        .join(RoleGrant, RoleGrant.member_id == Member.id)
        .join(Unit, Unit.id == RoleGrant.unit_id)
        .where(RoleGrant.revoked_at.is_(None))
        .order_by(Unit.path, Member.full_name, RoleGrant.role)
    )
    if root is not None:
        stmt = stmt.where(in_subtree(root.path))
    return [MemberRow(*row) for row in (await session.execute(stmt)).all()]


async def identities_of_unit_role(
    session: AsyncSession, unit_id: int, roles: Sequence[Role]
) -> Sequence[Identity]:
    """Reachable identities of members holding one of ``roles`` on exactly ``unit_id``."""
    stmt = (
        select(Identity)
        .join(RoleGrant, RoleGrant.member_id == Identity.member_id)
        .where(
            RoleGrant.unit_id == unit_id,
            RoleGrant.role.in_([r.value for r in roles]),
            RoleGrant.revoked_at.is_(None),
            Identity.blocked_at.is_(None),
        )
        .distinct()
    )
    return (await session.execute(stmt)).scalars().all()


async def mark_blocked(
    session: AsyncSession, channel: str, external_id: str, *, now: dt.datetime | None = None
) -> bool:
    """Mark an identity unreachable (it blocked the bot); its next message clears the mark.

    Its announcement subscriptions end (subscribing again takes a new choice).
    False when there is no such identity or it was already marked.
    """
    stmt = (
        update(Identity)
        .where(
            Identity.channel == channel,
            Identity.external_id == external_id,
            Identity.blocked_at.is_(None),
        )
        .values(blocked_at=coarse(now or utcnow()))
        .returning(Identity.id)
    )
    blocked = (await session.execute(stmt)).scalar_one_or_none()
    if blocked is not None:
        await unsubscribe(session, blocked)
    return blocked is not None
