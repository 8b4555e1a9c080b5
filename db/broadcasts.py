"""Announcements: the audience in SQL, counts, fan-out into the outbox, cancel, progress, report.

The audience of a broadcast is ``{"roles": [...], "citizens": bool}`` under its
unit: members holding one of the roles on a unit of the subtree, and chats
subscribed to a unit of the subtree (``db.subscriptions``). It is never loaded
into Python: counting and fan-out run in PostgreSQL.

Fan-out writes one outbox row per recipient, ``dedup_key = b:<broadcast>:<identity>``,
in batches keyed by identity id (``INSERT … SELECT … ON CONFLICT DO NOTHING``);
the broadcast's ``fanout_cursor`` moves in the same transaction as its batch, so
a fan-out killed at any point resumes where it stopped and queues nothing twice.
A row's payload is only ``{"broadcast": id, "as": "member" | "citizen"}``; the
sender takes the messages from ``broadcast.messages`` in the recipient's language.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, literal, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    ACTIVE_BROADCAST,
    Broadcast,
    BroadcastStatus,
    Identity,
    Member,
    Outbox,
    OutboxStatus,
    RoleGrant,
    Unit,
)

MEMBER_ROLES = ("officer", "force", "supervisor")
# ``last_error`` of a recipient on a channel no process sends on (``unserved:zalo``).
UNSERVED = "unserved:"


def audience_filter(
    root_path: str, roles: Sequence[str], citizens: bool
) -> tuple[str, dict[str, Any]]:
    """SQL (over ``identity i``): true for the identities the audience reaches, and a
    second expression, ``is_member``, true when the identity is reached as a member."""
    member = (
        "EXISTS (SELECT 1 FROM role_grant g JOIN unit u ON u.id = g.unit_id "
        "WHERE g.member_id = i.member_id AND g.revoked_at IS NULL "
        "AND g.role = ANY(CAST(:roles AS text[])) AND u.path LIKE :path_like)"
    )
    citizen = (
        "EXISTS (SELECT 1 FROM subscription s JOIN unit u ON u.id = s.unit_id "
        "WHERE s.identity_id = i.id AND u.path LIKE :path_like)"
    )
    parts = []
    if roles:
        parts.append(member)
    if citizens:
        parts.append(citizen)
    where = " OR ".join(parts) or "false"
    is_member = member if roles else "false"
    params = {"roles": list(roles), "path_like": _like(root_path)}
    return f"({where})", {"params": params, "is_member": is_member}


def _like(path: str) -> str:
    return path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@dataclass(frozen=True)
class AudienceCount:
    total: int
    by_channel: dict[str, int]
    by_language: dict[str, int]


async def count_audience(
    session: AsyncSession, root: Unit, roles: Sequence[str], citizens: bool
) -> AudienceCount:
    """How many chats the audience reaches, by channel and by language (one query)."""
    where, extra = audience_filter(root.path, roles, citizens)
    sql = text(
        "SELECT i.channel, COALESCE(i.language, 'vi') AS language, count(*) AS n "
        f"FROM identity i WHERE {where} GROUP BY 1, 2"
    )
    rows = (await session.execute(sql, extra["params"])).all()
    by_channel: dict[str, int] = {}
    by_language: dict[str, int] = {}
    for channel, language, n in rows:
        by_channel[channel] = by_channel.get(channel, 0) + n
        by_language[language] = by_language.get(language, 0) + n
    return AudienceCount(sum(by_channel.values()), by_channel, by_language)


async def create(
    session: AsyncSession,
    *,
    author_member_id: int | None,
    unit: Unit,
    roles: Sequence[str],
    citizens: bool,
    content: dict[str, Any],
    messages: dict[str, Any],
    send_at: dt.datetime | None,
    urgent: bool,
    recipients: int,
    status: BroadcastStatus,
    status_identity_id: int | None,
) -> Broadcast:
    row = Broadcast(
        author_member_id=author_member_id,
        unit_id=unit.id,
        audience={"roles": list(roles), "citizens": citizens},
        text=str(content.get("text", "")),
        content=content,
        messages=messages,
        status=status.value,
        send_at=send_at,
        urgent=urgent,
        recipients=recipients,
        status_identity_id=status_identity_id,
    )
    session.add(row)
    await session.flush()
    return row


async def get(session: AsyncSession, broadcast_id: int, *, lock: bool = False) -> Broadcast | None:
    stmt = select(Broadcast).where(Broadcast.id == broadcast_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def due_for_fanout(session: AsyncSession, now: dt.datetime) -> Sequence[int]:
    stmt = (
        select(Broadcast.id)
        .where(
            Broadcast.status.in_([BroadcastStatus.SCHEDULED.value, BroadcastStatus.FANOUT.value]),
            func.coalesce(Broadcast.send_at, Broadcast.created_at) <= now,
        )
        .order_by(Broadcast.id)
    )
    return (await session.execute(stmt)).scalars().all()


async def fan_out_batch(
    session: AsyncSession,
    broadcast_id: int,
    batch: int,
    served: Collection[str] | None = None,
) -> int | None:
    """Queue the next ``batch`` recipients of a broadcast (in the caller's transaction).

    A recipient on a channel not in ``served`` (None: every channel) gets a row that is
    ``failed`` at once with ``last_error`` ``unserved:<channel>``: counted as not
    reachable, never left pending for a sender that does not exist.

    Returns how many recipients the batch covered (0: the fan-out is complete and the
    broadcast moves to ``sending``), or None when another process holds the broadcast
    or it is no longer being fanned out (cancelled).
    """
    locked = select(Broadcast).where(Broadcast.id == broadcast_id).with_for_update(skip_locked=True)
    b = (await session.execute(locked)).scalar_one_or_none()
    if b is None or b.status not in (BroadcastStatus.SCHEDULED, BroadcastStatus.FANOUT):
        return None
    unit = await session.get(Unit, b.unit_id)
    assert unit is not None
    roles = list(b.audience.get("roles", []))
    where, extra = audience_filter(unit.path, roles, bool(b.audience.get("citizens")))
    sql = text(
        f"""
        WITH batch AS (
            SELECT i.id, i.channel, {extra["is_member"]} AS is_member,
                   (CAST(:every AS boolean) OR i.channel = ANY(CAST(:served AS text[])))
                       AS reachable
            FROM identity i
            WHERE i.id > :cursor AND {where}
            ORDER BY i.id
            LIMIT :batch
        ), queued AS (
            INSERT INTO outbox
                (identity_id, dedup_key, payload, urgent, not_before, status, attempts,
                 broadcast_id, created_at, last_error)
            SELECT id, :key_prefix || id,
                   jsonb_build_object(
                       'broadcast', CAST(:bid AS bigint),
                       'as', CASE WHEN is_member THEN 'member' ELSE 'citizen' END),
                   :urgent, :not_before,
                   CASE WHEN reachable THEN 'pending' ELSE 'failed' END,
                   0, CAST(:bid AS bigint), now(),
                   CASE WHEN reachable THEN NULL ELSE :unserved || channel END
            FROM batch
            ON CONFLICT (dedup_key) DO NOTHING
            RETURNING 1
        )
        SELECT (SELECT max(id) FROM batch) AS last, (SELECT count(*) FROM batch) AS n,
               (SELECT count(*) FROM queued) AS queued
        """
    )
    params = {
        **extra["params"],
        "cursor": b.fanout_cursor,
        "batch": batch,
        "bid": b.id,
        "key_prefix": f"b:{b.id}:",
        "urgent": b.urgent,
        "not_before": b.send_at or b.created_at,
        "every": served is None,
        "served": sorted(served or ()),
        "unserved": UNSERVED,
    }
    last, covered, _queued = (await session.execute(sql, params)).one()
    if covered:
        b.fanout_cursor = int(last)
        b.status = BroadcastStatus.FANOUT.value
    else:
        b.status = BroadcastStatus.SENDING.value
        queued_total = await session.scalar(
            select(func.count()).select_from(Outbox).where(Outbox.broadcast_id == b.id)
        )
        b.recipients = int(queued_total or 0)
    await session.flush()
    return int(covered)


async def cancel(session: AsyncSession, broadcast: Broadcast, now: dt.datetime) -> int:
    """Stop what has not been sent; how many messages that is.

    The broadcast is cancelled and its pending rows no sender holds are cancelled at
    once. A row a sender has claimed stays its own: the sender sees the broadcast is
    cancelled before it hands the row to the messenger and records it cancelled (or,
    if it was already on its way, sent), so every row ends with one true outcome.
    """
    broadcast.status = BroadcastStatus.CANCELLED.value
    broadcast.finished_at = now
    pending = (Outbox.broadcast_id == broadcast.id) & (Outbox.status == OutboxStatus.PENDING.value)
    result = await session.execute(
        update(Outbox)
        .where(pending, Outbox.leased_by.is_(None))
        .values(status=OutboxStatus.CANCELLED.value, last_error="cancelled")
        .returning(Outbox.id)
    )
    claimed = await session.scalar(select(func.count()).select_from(Outbox).where(pending))
    return len(result.all()) + int(claimed or 0)


@dataclass(frozen=True)
class Progress:
    sent: int = 0
    pending: int = 0
    blocked: int = 0
    failed: int = 0
    cancelled: int = 0
    first_sent: dt.datetime | None = None
    last_sent: dt.datetime | None = None
    # recipients on a channel no process sends on, and those channels
    unreachable: int = 0
    unserved: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        done = self.sent + self.blocked + self.failed + self.cancelled + self.unreachable
        return done + self.pending


def _unserved_channel() -> Any:
    """``zalo`` for a row failed as ``unserved:zalo``, else NULL."""
    return case(
        (
            Outbox.last_error.startswith(UNSERVED, autoescape=True),
            func.substr(Outbox.last_error, len(UNSERVED) + 1),
        ),
        else_=None,
    )


async def progress(session: AsyncSession, broadcast_id: int) -> Progress:
    unserved = _unserved_channel().label("unserved")
    stmt = (
        select(
            Outbox.status,
            unserved,
            func.count(),
            func.min(Outbox.sent_at),
            func.max(Outbox.sent_at),
        )
        .where(Outbox.broadcast_id == broadcast_id)
        .group_by(Outbox.status, unserved)
    )
    counts: dict[str, int] = {}
    channels: set[str] = set()
    unreachable = 0
    first = last = None
    for status, channel, n, lo, hi in (await session.execute(stmt)).all():
        if status == OutboxStatus.FAILED.value and channel is not None:
            unreachable += n
            channels.add(channel)
            continue
        counts[status] = counts.get(status, 0) + n
        if status == OutboxStatus.SENT.value:
            first, last = lo, hi
    return Progress(
        sent=counts.get("sent", 0),
        pending=counts.get("pending", 0),
        blocked=counts.get("blocked", 0),
        failed=counts.get("failed", 0),
        cancelled=counts.get("cancelled", 0),
        first_sent=first,
        last_sent=last,
        unreachable=unreachable,
        unserved=tuple(sorted(channels)),
    )


async def active(session: AsyncSession) -> Sequence[Broadcast]:
    stmt = (
        select(Broadcast)
        .where(Broadcast.status.in_([s.value for s in ACTIVE_BROADCAST]))
        .order_by(Broadcast.id)
    )
    return (await session.execute(stmt)).scalars().all()


async def recent(session: AsyncSession, limit: int = 50) -> Sequence[Broadcast]:
    stmt = select(Broadcast).order_by(Broadcast.id.desc()).limit(limit)
    return (await session.execute(stmt)).scalars().all()


@dataclass(frozen=True)
class ReportRow:
    unit_code: str
    unit_name: str
    member_name: str
    role: str
    channel: str
    status: str


async def member_report(session: AsyncSession, broadcast: Broadcast) -> Sequence[ReportRow]:
    """Members reached by the broadcast with what became of their message, by unit.

    Citizens are never listed (their rows have payload ``as = citizen``). The status is
    the row's, or ``unreachable`` for a member on a channel no process sends on.
    """
    unit = await session.get(Unit, broadcast.unit_id)
    assert unit is not None
    roles = list(broadcast.audience.get("roles", []))
    stmt = (
        select(
            Unit.code,
            Unit.name,
            Member.full_name,
            RoleGrant.role,
            Identity.channel,
            case(
                (_unserved_channel().is_not(None), literal("unreachable")),
                else_=Outbox.status,
            ),
        )
        .join(Identity, Identity.id == Outbox.identity_id)
        .join(Member, Member.id == Identity.member_id)
        .join(RoleGrant, RoleGrant.member_id == Member.id)
        .join(Unit, Unit.id == RoleGrant.unit_id)
        .where(
            Outbox.broadcast_id == broadcast.id,
            Outbox.payload["as"].astext == "member",
            RoleGrant.revoked_at.is_(None),
            RoleGrant.role.in_(roles),
            Unit.path.startswith(unit.path, autoescape=True),
        )
        .order_by(Unit.path, Member.full_name, RoleGrant.role)
    )
    return [ReportRow(*row) for row in (await session.execute(stmt)).all()]
