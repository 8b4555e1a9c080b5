"""Conversation state per identity, and the record of processed updates.

``open_update`` starts the engine's transaction for one update in a single
round trip: it gets or creates the identity, creates or locks its conversation
row, records the update id, and loads the member with its active grants.

A person's rows carry only the day they were last active (``db.sealed.coarse``):
a precise time there would line up with the time of an anonymous tip. The time
of the update before the current one, which the idle check needs, is kept
sealed under the key (``conversation.touched``).
``prune_processed_updates`` forgets update ids once no redelivery can come.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    LargeBinary,
    Select,
    and_,
    bindparam,
    delete,
    exists,
    literal,
    select,
    true,
    tuple_,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.config import Settings
from db.members import Grant
from db.models import Conversation, Identity, Member, ProcessedUpdate, Role, RoleGrant, Unit
from db.sealed import coarse, open_time, seal_time


@dataclass
class Opened:
    """The state one update starts from, loaded into the session and locked."""

    identity: Identity
    conversation: Conversation
    member: Member | None
    grants: list[Grant]
    fresh: bool  # False: this update id was processed before (a redelivery)
    previous_at: dt.datetime | None = None  # the person's update before this one


async def open_update(
    session: AsyncSession,
    channel: str,
    external_id: str,
    *,
    update_id: str | None,
    chat_id: str | None = None,
    display_name: str = "",
    language: str | None = None,
    now: dt.datetime,
    settings: Settings | None = None,
) -> Opened:
    """Start handling one update: one statement, whatever the person's state.

    The identity upsert locks the identity row and the conversation upsert
    (``ON CONFLICT DO UPDATE``, which in READ COMMITTED sees and locks the latest
    row even if it was committed after the statement began) locks the
    conversation, so two quick taps by one person run in order while different
    people never wait on each other. A redelivered update id conflicts and comes
    back as ``fresh=False``; the caller then rolls back.

    With ``settings``, the precise time is sealed into the conversation and the
    previous one comes back as ``previous_at``; without, neither is kept.
    """
    params = {
        "channel": channel,
        "external_id": external_id,
        "chat_id": chat_id or external_id,
        "display_name": display_name,
        "language": language,
        "now": now,
        "day": coarse(now),
        "touched": seal_time(settings, now) if settings is not None else None,
        "update_id": update_id,
    }
    stmt = _open_statement(recorded=update_id is not None)
    rows = (await session.execute(stmt, params)).all()
    identity, conversation, member, _, _, _, is_fresh = rows[0]
    grants = [
        Grant(grant_id, Role(role), unit)
        for _, _, _, grant_id, role, unit, _ in rows
        if grant_id is not None
    ]
    previous = open_time(settings, conversation.touched_before) if settings is not None else None
    return Opened(identity, conversation, member, grants, bool(is_fresh), previous)


async def prune_processed_updates(
    session: AsyncSession, before: dt.datetime, *, batch: int = 10_000
) -> int:
    """Forget update ids recorded before ``before``, ``batch`` rows per statement."""
    pruned = 0
    while True:
        oldest = (
            select(ProcessedUpdate.channel, ProcessedUpdate.update_id)
            .where(ProcessedUpdate.at < before)
            .limit(batch)
        )
        result = await session.execute(
            delete(ProcessedUpdate).where(
                tuple_(ProcessedUpdate.channel, ProcessedUpdate.update_id).in_(oldest)
            )
        )
        count = int(getattr(result, "rowcount", 0) or 0)
        pruned += count
        if count < batch:
            return pruned


@functools.cache
def _open_statement(*, recorded: bool) -> Select[*tuple[Any, ...]]:
    """The statement of ``open_update``, built once (building it costs more than running it)."""
    identity_t = Identity.__table__
    conversation_t = Conversation.__table__
    now = bindparam("now", type_=DateTime(timezone=True))
    day = bindparam("day", type_=DateTime(timezone=True))
    touched = bindparam("touched", type_=LargeBinary)
    ident = (
        insert(Identity)
        .values(
            channel=bindparam("channel"),
            external_id=bindparam("external_id"),
            chat_id=bindparam("chat_id"),
            display_name=bindparam("display_name"),
            language=bindparam("language"),
            created_at=day,
            last_seen_at=day,
        )
        .on_conflict_do_update(
            constraint="uq_identity_channel_external",
            set_={"last_seen_at": day, "blocked_at": None},
        )
        .returning(*identity_t.c)
        .cte("ident")
    )
    conv = (
        insert(Conversation)
        .from_select(
            ["identity_id", "data", "updated_at", "touched"],
            select(ident.c.id, literal({}, JSONB), day, touched),
        )
        # Locks the row; the SET clause reads the row as it stood before this update.
        .on_conflict_do_update(
            index_elements=["identity_id"],
            set_={
                "updated_at": day,
                "touched": touched,
                "touched_before": conversation_t.c.touched,
            },
        )
        .returning(*conversation_t.c)
        .cte("conv")
    )
    fresh: ColumnElement[bool]
    if recorded:
        inserted = (
            insert(ProcessedUpdate)
            .values(channel=bindparam("channel"), update_id=bindparam("update_id"), at=now)
            .on_conflict_do_nothing()
            .returning(ProcessedUpdate.update_id)
            .cte("recorded")
        )
        fresh = exists(select(inserted.c.update_id))
    else:
        fresh = true()
    return (
        select(
            aliased(Identity, ident),
            aliased(Conversation, conv),
            Member,
            RoleGrant.id,
            RoleGrant.role,
            Unit,
            fresh,
        )
        .select_from(ident)
        .join(conv, conv.c.identity_id == ident.c.id)
        .outerjoin(Member, Member.id == ident.c.member_id)
        .outerjoin(
            RoleGrant, and_(RoleGrant.member_id == Member.id, RoleGrant.revoked_at.is_(None))
        )
        .outerjoin(Unit, Unit.id == RoleGrant.unit_id)
        .order_by(Unit.depth, RoleGrant.role)
    )
