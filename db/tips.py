"""Citizen tips: creation with a hashed tracking code, events, routing, inbox, escalation.

Repositories here add and query; they never commit (the engine's transaction or
the scheduler job's unit of work does). A tip row never names its reporter: the
link lives sealed in ``tip_reporter`` (see ``db.sealed``), and events written on
the reporter's behalf have no actor.

Tracking codes are 16 random digits shown as four groups ("4821-0937-5512-0063"):
about 53 bits, easy to read aloud over the phone. Only an HMAC-SHA-256 of the
digits under a key derived from ``ANTT_SECRET_KEY`` is stored, so a copy of the
database alone cannot be searched for codes.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from db.members import identities_of_unit_role
from db.models import (
    COMMUNE_LEVEL,
    DISTRICT_LEVEL,
    Attachment,
    Member,
    Role,
    RoleGrant,
    Tip,
    TipCategory,
    TipEvent,
    TipStatus,
    Unit,
    UnitKind,
)
from db.sealed import ReporterLink, code_digest, code_digests, store_link
from db.units import ancestors, in_subtree

CODE_DIGITS = 16
GROUP = 4
OPEN_STATUSES = (TipStatus.NEW.value, TipStatus.ACKNOWLEDGED.value, TipStatus.ASSIGNED.value)
OUTCOMES = ("handled", "not_verified", "referred", "spam")
DUPLICATE = "duplicate"


class EventKind:
    CREATED = "created"
    ROUTED = "routed"
    ACKNOWLEDGED = "acknowledged"
    ASSIGNED = "assigned"
    QUESTION = "question"
    REPORTER_ANSWER = "reporter_answer"
    REPORTER_INFO = "reporter_info"
    DUPLICATE = "duplicate"
    CLOSED = "closed"
    ESCALATED = "escalated"
    MOVED = "moved"  # its unit closed: the tip went to the successor's inbox (db.succession)


# --- tracking codes ------------------------------------------------------------


def new_code() -> str:
    """16 random digits (secrets), about 53 bits."""
    return "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))


def format_code(digits: str) -> str:
    return "-".join(digits[i : i + GROUP] for i in range(0, len(digits), GROUP))


def normalize_code(raw: str) -> str | None:
    """The code's digits whatever the spacing or dashes; None unless exactly 16 digits."""
    digits = "".join(ch for ch in raw if ch.isdigit() and ch.isascii())
    others = [ch for ch in raw if not (ch.isdigit() or ch in " -._")]
    if others or len(digits) != CODE_DIGITS:
        return None
    return digits


def hash_code(settings: Settings, code: str) -> str:
    digits = normalize_code(code)
    if digits is None:
        raise ValueError("not a tracking code")
    return code_digest(settings, digits)


# --- categories ----------------------------------------------------------------------


async def categories(session: AsyncSession) -> Sequence[TipCategory]:
    stmt = select(TipCategory).order_by(TipCategory.sort, TipCategory.code)
    return (await session.execute(stmt)).scalars().all()


async def category(session: AsyncSession, code: str) -> TipCategory | None:
    return await session.get(TipCategory, code)


def category_title(cat: TipCategory | None, lang: str) -> str:
    if cat is None:
        return "?"
    return cat.title_en if lang == "en" and cat.title_en else cat.title_vi


# --- creation ------------------------------------------------------------------------


@dataclass(frozen=True)
class MediaItem:
    kind: str
    file_id: str
    mime: str | None = None
    size: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "file_id": self.file_id, "mime": self.mime, "size": self.size}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MediaItem:
        return cls(data["kind"], data["file_id"], data.get("mime"), data.get("size"))


@dataclass(frozen=True)
class TipDraft:
    """What the citizen confirmed; ``routed_by`` says how the unit was found."""

    category: str
    description: str
    unit_id: int
    channel: str
    routed_by: str
    place_text: str | None = None
    lat: float | None = None
    lon: float | None = None
    media: Sequence[MediaItem] = field(default_factory=tuple)


async def create_tip(
    session: AsyncSession,
    settings: Settings,
    draft: TipDraft,
    reporter: ReporterLink,
    *,
    now: dt.datetime,
) -> tuple[Tip, str]:
    """Add the tip, its first events, its media and the sealed reporter link.

    Returns the tip and its plain tracking code (shown once, never stored).
    """
    code = new_code()
    tip = Tip(
        code_hash=code_digest(settings, code),
        category=draft.category,
        description=draft.description,
        unit_id=draft.unit_id,
        place_text=draft.place_text,
        lat=draft.lat,
        lon=draft.lon,
        anonymous=not reporter.identified,
        status=TipStatus.NEW.value,
        created_at=now,
    )
    session.add(tip)
    await session.flush()
    add_event(session, tip.id, EventKind.CREATED, at=now, data={"media": len(draft.media)})
    add_event(
        session,
        tip.id,
        EventKind.ROUTED,
        at=now,
        data={"unit_id": draft.unit_id, "by": draft.routed_by},
    )
    add_attachments(session, tip.id, draft.channel, draft.media, now=now)
    await store_link(session, settings, tip.id, reporter)
    await session.flush()
    return tip, code


def add_event(
    session: AsyncSession,
    tip_id: int,
    kind: str,
    *,
    at: dt.datetime,
    actor_member_id: int | None = None,
    public: bool = False,
    text: str | None = None,
    data: dict[str, Any] | None = None,
) -> TipEvent:
    event = TipEvent(
        tip_id=tip_id,
        kind=kind,
        actor_member_id=actor_member_id,
        public=public,
        text=text,
        data=data or {},
        at=at,
    )
    session.add(event)
    return event


def add_attachments(
    session: AsyncSession,
    tip_id: int,
    channel: str,
    media: Sequence[MediaItem],
    *,
    now: dt.datetime,
) -> None:
    for item in media:
        session.add(
            Attachment(
                owner_kind="tip",
                owner_id=tip_id,
                channel=channel,
                file_id=item.file_id,
                kind=item.kind,
                mime=item.mime,
                size=item.size,
                created_at=now,
            )
        )


# --- reading -------------------------------------------------------------------------


async def get(session: AsyncSession, tip_id: int) -> Tip | None:
    return await session.get(Tip, tip_id)


async def by_code(session: AsyncSession, settings: Settings, code: str) -> Tip | None:
    digits = normalize_code(code)
    if digits is None:
        return None
    digests = code_digests(settings, digits)
    stmt = select(Tip).where(Tip.code_hash.in_(digests))
    tip = (await session.execute(stmt)).scalar_one_or_none()
    if tip is not None and tip.code_hash != digests[0]:
        tip.code_hash = digests[0]  # made before a key rotation: re-keyed now it is used
    return tip


async def events(
    session: AsyncSession, tip_id: int, *, public_only: bool = False
) -> Sequence[tuple[TipEvent, str | None]]:
    """The tip's events in order, each with its actor's name (None for the reporter/system)."""
    stmt = (
        select(TipEvent, Member.full_name)
        .outerjoin(Member, Member.id == TipEvent.actor_member_id)
        .where(TipEvent.tip_id == tip_id)
        .order_by(TipEvent.at, TipEvent.id)
    )
    if public_only:
        stmt = stmt.where(TipEvent.public.is_(True))
    return [(ev, name) for ev, name in (await session.execute(stmt)).all()]


async def event_times(
    session: AsyncSession, tip_id: int, kinds: Sequence[str], since: dt.datetime
) -> list[dt.datetime]:
    """When the tip had events of ``kinds`` after ``since``, oldest first (for its limits)."""
    stmt = (
        select(TipEvent.at)
        .where(TipEvent.tip_id == tip_id, TipEvent.kind.in_(list(kinds)), TipEvent.at > since)
        .order_by(TipEvent.at)
    )
    return list((await session.execute(stmt)).scalars().all())


async def media_counts(session: AsyncSession, tip_id: int) -> dict[str, int]:
    stmt = (
        select(Attachment.kind, func.count())
        .where(Attachment.owner_kind == "tip", Attachment.owner_id == tip_id)
        .group_by(Attachment.kind)
    )
    return {kind: n for kind, n in (await session.execute(stmt)).all()}


async def attachments(session: AsyncSession, tip_id: int) -> Sequence[Attachment]:
    """The files of a tip, in the order they came."""
    stmt = (
        select(Attachment)
        .where(Attachment.owner_kind == "tip", Attachment.owner_id == tip_id)
        .order_by(Attachment.id)
    )
    return (await session.scalars(stmt)).all()


async def members_of_unit(session: AsyncSession, unit_id: int) -> Sequence[tuple[int, str]]:
    """Members holding an officer or force grant on exactly ``unit_id``: (id, name)."""
    stmt = (
        select(Member.id, Member.full_name)
        .join(RoleGrant, RoleGrant.member_id == Member.id)
        .where(
            RoleGrant.unit_id == unit_id,
            RoleGrant.role.in_([Role.OFFICER.value, Role.FORCE.value]),
            RoleGrant.revoked_at.is_(None),
        )
        .distinct()
        .order_by(Member.full_name, Member.id)
    )
    return [(mid, name) for mid, name in (await session.execute(stmt)).all()]


@dataclass(frozen=True)
class InboxPage:
    rows: Sequence[tuple[Tip, Unit]]
    total: int
    waiting: int = 0  # not acknowledged yet (status new)


async def inbox(
    session: AsyncSession,
    roots: Sequence[Unit],
    *,
    category: str | None = None,
    status: str | None = None,
    limit: int = 8,
    offset: int = 0,
) -> InboxPage:
    """Tips routed to units under ``roots``, open ones unless ``status`` says; what needs
    action first (escalated, then not acknowledged), newest first within."""
    if not roots:
        return InboxPage([], 0)
    where = [or_(*(in_subtree(r.path) for r in roots))]
    if status:
        where.append(Tip.status == status)
    else:
        where.append(Tip.status.in_(OPEN_STATUSES))
    if category:
        where.append(Tip.category == category)
    base = select(Tip, Unit).join(Unit, Unit.id == Tip.unit_id).where(*where)
    counted = base.subquery()
    total, waiting = (
        await session.execute(
            select(
                func.count(), func.count().filter(counted.c.status == TipStatus.NEW.value)
            ).select_from(counted)
        )
    ).one()
    first = (
        Tip.escalation_level.desc(),
        case((Tip.status == TipStatus.NEW.value, 0), else_=1),
    )
    stmt = base.order_by(*first, Tip.created_at.desc(), Tip.id.desc()).limit(limit).offset(offset)
    rows = [(tip, unit) for tip, unit in (await session.execute(stmt)).all()]
    return InboxPage(rows, int(total or 0), int(waiting or 0))


async def recent_open_in_unit(
    session: AsyncSession, unit_id: int, *, exclude: int, limit: int = 6
) -> Sequence[Tip]:
    stmt = (
        select(Tip)
        .where(Tip.unit_id == unit_id, Tip.id != exclude, Tip.duplicate_of_id.is_(None))
        .order_by(Tip.created_at.desc(), Tip.id.desc())
        .limit(limit)
    )
    return (await session.execute(stmt)).scalars().all()


# --- routing -------------------------------------------------------------------------


def _active() -> Any:
    return Unit.valid_to.is_(None)


async def nearest_unit(session: AsyncSession, lat: float, lon: float) -> tuple[Unit, str] | None:
    """The unit a place belongs to: the nearest commune/ward with coordinates, else the
    nearest district-level unit with coordinates, else the province.

    Distance is an equirectangular approximation in SQL: exact enough to pick the
    nearest of a province's communes, and needs no extension.
    """
    import math

    scale = math.cos(math.radians(lat))
    distance = func.power(Unit.lat - lat, 2) + func.power((Unit.lon - lon) * literal(scale), 2)
    for kinds, how in ((COMMUNE_LEVEL, "location"), (DISTRICT_LEVEL, "location_district")):
        stmt = (
            select(Unit)
            .where(
                Unit.kind.in_([k.value for k in kinds]),
                Unit.lat.is_not(None),
                Unit.lon.is_not(None),
                _active(),
            )
            .order_by(distance, Unit.id)
            .limit(1)
        )
        found = (await session.execute(stmt)).scalar_one_or_none()
        if found is not None:
            return found, how
    province = await province_unit(session)
    return (province, "location_province") if province is not None else None


async def province_unit(session: AsyncSession) -> Unit | None:
    """The province (or, failing that, the top of the tree)."""
    for where in (Unit.kind == UnitKind.PROVINCE.value, Unit.parent_id.is_(None)):
        stmt = select(Unit).where(where, _active()).order_by(Unit.depth, Unit.id).limit(1)
        found = (await session.execute(stmt)).scalar_one_or_none()
        if found is not None:
            return found
    return None


async def current_unit(session: AsyncSession, unit: Unit) -> Unit:
    """Follow ``replaced_by`` from a merged (closed) unit to the one in force today."""
    seen = {unit.id}
    while unit.valid_to is not None and unit.replaced_by_id is not None:
        nxt = await session.get(Unit, unit.replaced_by_id)
        if nxt is None or nxt.id in seen:
            break
        seen.add(nxt.id)
        unit = nxt
    return unit


async def district_units(session: AsyncSession) -> Sequence[Unit]:
    stmt = (
        select(Unit)
        .where(Unit.kind.in_([k.value for k in DISTRICT_LEVEL]), _active())
        .order_by(Unit.name, Unit.id)
    )
    return (await session.execute(stmt)).scalars().all()


async def commune_units(session: AsyncSession, under: Unit | None) -> Sequence[Unit]:
    stmt = select(Unit).where(Unit.kind.in_([k.value for k in COMMUNE_LEVEL]), _active())
    if under is not None:
        stmt = stmt.where(in_subtree(under.path))
    return (await session.execute(stmt.order_by(Unit.name, Unit.id))).scalars().all()


# --- status changes (guarded, so two officers pressing at once act once) ---------------


async def acknowledge(session: AsyncSession, tip_id: int, now: dt.datetime) -> bool:
    stmt = (
        update(Tip)
        .where(Tip.id == tip_id, Tip.status == TipStatus.NEW.value)
        .values(status=TipStatus.ACKNOWLEDGED.value, acknowledged_at=now)
        .returning(Tip.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def assign(session: AsyncSession, tip_id: int, member_id: int, now: dt.datetime) -> bool:
    stmt = (
        update(Tip)
        .where(Tip.id == tip_id, Tip.status.in_(OPEN_STATUSES))
        .values(
            status=TipStatus.ASSIGNED.value,
            assigned_member_id=member_id,
            acknowledged_at=func.coalesce(Tip.acknowledged_at, now),
        )
        .returning(Tip.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def close(
    session: AsyncSession,
    tip_id: int,
    outcome: str,
    now: dt.datetime,
    *,
    duplicate_of: int | None = None,
) -> bool:
    values: dict[str, Any] = {
        "status": TipStatus.CLOSED.value,
        "outcome": outcome,
        "closed_at": now,
        "acknowledged_at": func.coalesce(Tip.acknowledged_at, now),
    }
    if duplicate_of is not None:
        values["duplicate_of_id"] = duplicate_of
    stmt = (
        update(Tip)
        .where(Tip.id == tip_id, Tip.status.in_(OPEN_STATUSES))
        .values(**values)
        .returning(Tip.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def duplicate_root(session: AsyncSession, tip_id: int) -> int:
    """Follow ``duplicate_of`` to the original (cycle-safe)."""
    seen: set[int] = set()
    current = tip_id
    while current not in seen:
        seen.add(current)
        nxt = await session.scalar(select(Tip.duplicate_of_id).where(Tip.id == current))
        if nxt is None:
            break
        current = nxt
    return current


# --- escalation ------------------------------------------------------------------------


async def due_for_escalation(
    session: AsyncSession, now: dt.datetime, hours: float, *, limit: int = 500
) -> Sequence[Tip]:
    """New (unacknowledged) tips idle for ``hours`` since they arrived or last escalated."""
    cutoff = now - dt.timedelta(hours=hours)
    stmt = (
        select(Tip)
        .where(
            Tip.status == TipStatus.NEW.value,
            func.coalesce(Tip.escalated_at, Tip.created_at) <= cutoff,
        )
        .order_by(Tip.created_at, Tip.id)
        .limit(limit)
    )
    return (await session.execute(stmt)).scalars().all()


async def escalation_target(session: AsyncSession, unit: Unit, level: int) -> Unit | None:
    """The unit whose supervisors get escalation ``level`` (1 = the nearest one above).

    Ancestors without a reachable supervisor are skipped, so a tip never escalates
    into a unit where nobody would read it.
    """
    with_supervisors: list[Unit] = []
    for above in reversed(await ancestors(session, unit)):
        if await identities_of_unit_role(session, above.id, [Role.SUPERVISOR]):
            with_supervisors.append(above)
            if len(with_supervisors) == level:
                return above
    return None


async def raise_escalation(
    session: AsyncSession, tip_id: int, from_level: int, now: dt.datetime
) -> bool:
    """Move the tip one level up, once: a concurrent run finds the level already raised."""
    stmt = (
        update(Tip)
        .where(
            Tip.id == tip_id,
            Tip.escalation_level == from_level,
            Tip.status == TipStatus.NEW.value,
        )
        .values(escalation_level=from_level + 1, escalated_at=now)
        .returning(Tip.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None
