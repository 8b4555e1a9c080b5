"""Invites: codes that let an officer, force member, supervisor or admin join a unit.

Only a keyed digest of the code is stored (HMAC-SHA-256 under a key derived from
``ANTT_SECRET_KEY``, like tracking codes), so a copy of the database cannot be
searched for codes. Invites made before keyed digests (``legacy_hash``) keep their
plain SHA-256 until they are used or expire. Codes use an alphabet without look-alike
characters (no 0/O, 1/I/L), 12 characters, about 59 bits.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import BigInteger, ColumnElement, DateTime, and_, bindparam, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings, get_settings
from db import audit
from db.models import Invite, Role, Unit, utcnow
from db.sealed import invite_digests

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 12
DEEP_LINK_PREFIX = "inv_"


class InviteStatus(enum.StrEnum):
    OK = "ok"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED_UP = "used_up"
    REVOKED = "revoked"


@dataclass(frozen=True)
class InviteCheck:
    status: InviteStatus
    invite: Invite | None = None
    unit: Unit | None = None
    grant_id: int | None = None  # after a redemption: the grant it made (None: already held)


def normalize_code(raw: str) -> str:
    """Accept what people type: any case, spaces or dashes, the ``inv_`` deep-link prefix."""
    code = raw.strip()
    if code.lower().startswith(DEEP_LINK_PREFIX):
        code = code[len(DEEP_LINK_PREFIX) :]
    return "".join(ch for ch in code.upper() if ch.isalnum())


def legacy_hash(code: str) -> str:
    """The plain SHA-256 invites stored before keyed digests."""
    return hashlib.sha256(normalize_code(code).encode()).hexdigest()


def _settings(settings: Settings | None) -> Settings:
    return settings if settings is not None else get_settings()


def hash_code(code: str, settings: Settings | None = None) -> str:
    """The keyed digest stored for ``code`` (under the current key)."""
    return invite_digests(_settings(settings), normalize_code(code))[0]


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def deep_link(bot_username: str, code: str) -> str:
    return f"https://t.me/{bot_username}?start={DEEP_LINK_PREFIX}{code}"


async def create_invite(
    session: AsyncSession,
    *,
    unit_id: int,
    role: Role,
    max_uses: int = 1,
    days: float = 7,
    created_by: int | None = None,
    now: dt.datetime | None = None,
    settings: Settings | None = None,
) -> str:
    """Store a new invite and return its plain code (shown once, never stored)."""
    if max_uses < 1:
        raise ValueError("max_uses must be at least 1")
    if days <= 0:
        raise ValueError("days must be positive")
    now = now or utcnow()
    code = new_code()
    invite = Invite(
        code_hash=hash_code(code, settings),
        legacy_hash=False,
        unit_id=unit_id,
        role=role.value,
        expires_at=now + dt.timedelta(days=days),
        max_uses=max_uses,
        uses=0,
        created_by=created_by,
    )
    session.add(invite)
    await session.flush()
    audit.record(
        session,
        "invite.create",
        actor_member_id=created_by,
        object_kind="invite",
        object_id=invite.id,
        data={"unit_id": unit_id, "role": role.value, "max_uses": max_uses},
    )
    return code


async def check_invite(
    session: AsyncSession,
    code: str,
    *,
    now: dt.datetime | None = None,
    settings: Settings | None = None,
) -> InviteCheck:
    """What a code is worth right now, without using it."""
    if not normalize_code(code):
        return InviteCheck(InviteStatus.UNKNOWN)
    digests = invite_digests(_settings(settings), normalize_code(code))
    which = or_(
        and_(Invite.code_hash.in_(digests), Invite.legacy_hash.is_(False)),
        and_(Invite.code_hash == legacy_hash(code), Invite.legacy_hash.is_(True)),
    )
    check = await _check(session, which, now or utcnow())
    if check.invite is not None and check.invite.code_hash != digests[0]:
        # Made before keyed digests or before a key rotation: re-keyed now it is used.
        check.invite.code_hash = digests[0]
        check.invite.legacy_hash = False
    return check


async def check_invite_id(
    session: AsyncSession, invite_id: int, *, now: dt.datetime | None = None
) -> InviteCheck:
    """``check_invite`` for an invite already found by its code (the code is not kept)."""
    return await _check(session, Invite.id == invite_id, now or utcnow())


async def _check(
    session: AsyncSession, which: ColumnElement[bool], now: dt.datetime
) -> InviteCheck:
    row = (
        await session.execute(
            select(Invite, Unit).join(Unit, Unit.id == Invite.unit_id).where(which)
        )
    ).one_or_none()
    if row is None:
        return InviteCheck(InviteStatus.UNKNOWN)
    invite, unit = row
    if invite.revoked_at is not None:
        return InviteCheck(InviteStatus.REVOKED, invite, unit)
    if invite.expires_at <= now:
        return InviteCheck(InviteStatus.EXPIRED, invite, unit)
    if invite.uses >= invite.max_uses:
        return InviteCheck(InviteStatus.USED_UP, invite, unit)
    return InviteCheck(InviteStatus.OK, invite, unit)


async def redeem_invite(
    session: AsyncSession,
    invite_id: int,
    member_id: int,
    *,
    now: dt.datetime | None = None,
    checked: InviteCheck | None = None,
) -> InviteCheck:
    """Use one of the invite's uses and grant its role, atomically against races.

    The use is counted by a guarded UPDATE, so two people racing for the last use
    cannot both get it. The use, the grant and their audit rows are one statement
    (each round trip is a wake-up of the database at a province's busiest moment);
    ``checked``, the invite's check just made in this transaction, saves reading it
    again. The result's ``grant_id`` is the new grant (None: the role was held).
    """
    now = now or utcnow()
    check = checked or await check_invite_id(session, invite_id, now=now)
    if check.status is not InviteStatus.OK or check.invite is None:
        return check
    params = {"invite_id": check.invite.id, "member_id": member_id, "now": now}
    used, grant_id = (await session.execute(_REDEEM, params)).one()
    if used is None:
        return InviteCheck(InviteStatus.USED_UP, check.invite, check.unit)
    return InviteCheck(InviteStatus.OK, check.invite, check.unit, grant_id)


_REDEEM = text(
    """
    WITH used AS (
        UPDATE invite SET uses = uses + 1
        WHERE id = :invite_id AND uses < max_uses AND expires_at > :now AND revoked_at IS NULL
        RETURNING id, unit_id, role, created_by
    ), granted AS (
        INSERT INTO role_grant (member_id, unit_id, role, granted_by)
        SELECT :member_id, unit_id, role, created_by FROM used
        ON CONFLICT (member_id, unit_id, role) WHERE revoked_at IS NULL DO NOTHING
        RETURNING id, unit_id, role, granted_by
    ), audited AS (
        INSERT INTO audit (actor_member_id, action, object_kind, object_id, data)
        SELECT granted_by, 'role.grant', 'member', CAST(:member_id AS TEXT),
               jsonb_build_object('unit_id', unit_id, 'role', role, 'grant_id', id)
        FROM granted
        UNION ALL
        SELECT :member_id, 'invite.redeem', 'invite', CAST(id AS TEXT), '{}'::jsonb FROM used
    )
    SELECT (SELECT id FROM used) AS used, (SELECT id FROM granted) AS grant_id
    """
).bindparams(
    bindparam("invite_id", type_=BigInteger),
    bindparam("member_id", type_=BigInteger),
    bindparam("now", type_=DateTime(timezone=True)),
)
