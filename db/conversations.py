"""Conversation state per identity, and the record of processed updates.

``open_update`` starts the engine's transaction for one update in a single
round trip: it gets or creates the identity, creates or locks its conversation
row, records the update id, and loads the member with its active grants. It runs
on the driver (:mod:`db.update_tx`) and gives plain records, not ORM objects: the
engine writes the person's next state itself (``save_state``).

A person's rows carry only the day they were last active (``db.sealed.coarse``):
a precise time there would line up with the time of an anonymous tip. The time
of the update before the current one, which the idle check needs, is kept
sealed under the key (``conversation.touched``).
``prune_processed_updates`` forgets update ids once no redelivery can come.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import operator
from dataclasses import dataclass, field, fields
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    LargeBinary,
    and_,
    bindparam,
    delete,
    exists,
    literal_column,
    null,
    select,
    true,
    tuple_,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from db.members import UNIT_COLUMNS, Grant, MemberRecord, UnitRecord
from db.models import Conversation, Identity, Member, ProcessedUpdate, Role, RoleGrant, Unit
from db.sealed import coarse, open_time, seal_time
from db.update_tx import UpdateTx


@dataclass(slots=True)
class IdentityRecord:
    """A person's identity on one channel, as the update found it (what the engine and
    the handlers read: every column more is decoding on every update)."""

    id: int
    member_id: int | None
    channel: str
    chat_id: str
    display_name: str
    language: str | None


@dataclass(slots=True)
class ConversationRecord:
    """Where a person is: the flow, its step and the data it keeps."""

    identity_id: int
    flow: str | None
    step: str | None
    data: dict[str, Any]
    touched_before: bytes | None  # the sealed time of the update before this one


@dataclass
class Opened:
    """The state one update starts from, its conversation row locked."""

    identity: IdentityRecord
    conversation: ConversationRecord
    member: MemberRecord | None
    grants: list[Grant]
    fresh: bool  # False: this update id was processed before (a redelivery)
    settings: Settings | None = field(default=None, repr=False)

    @functools.cached_property
    def previous_at(self) -> dt.datetime | None:
        """The time of the person's update before this one, opened when asked."""
        if self.settings is None:
            return None
        return open_time(self.settings, self.conversation.touched_before)


async def open_update(
    tx: UpdateTx,
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
    previous one is ``previous_at`` (opened when read); without, neither is kept.
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
    sql, names = _open_sql(recorded=update_id is not None)
    rows = await tx.fetch(sql, *[params[name] for name in names])
    first = rows[0]
    identity = IdentityRecord(*_IDENTITY_OF(first))
    conversation = ConversationRecord(*_CONVERSATION_OF(first))
    member = None
    if first["m_id"] is not None:
        member = MemberRecord(*_MEMBER_OF(first))
    grants = [Grant(row["g_id"], Role(row["g_role"]), _unit(row)) for row in rows if row["g_id"]]
    return Opened(identity, conversation, member, grants, bool(first["fresh"]), settings)


async def save_state(
    tx: UpdateTx, conversation: ConversationRecord, *, language: str | None = None
) -> None:
    """Write a conversation's flow, step and data, and with ``language`` the
    identity's language too, in one statement."""
    data = json.dumps(conversation.data)  # as SQLAlchemy writes JSONB
    args = (conversation.identity_id, conversation.flow, conversation.step, data)
    if language is None:
        await tx.execute(_SAVE_STATE, *args)
    else:
        await tx.execute(_SAVE_STATE_AND_LANGUAGE, *args, language)


# The engine's writes: the whole next state in one statement (one round trip).
_SAVE_STATE = (
    "UPDATE conversation SET flow = $2, step = $3, data = $4::jsonb WHERE identity_id = $1"
)
_SAVE_STATE_AND_LANGUAGE = (
    "WITH language AS (UPDATE identity SET language = $5 WHERE id = $1) " + _SAVE_STATE
)


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


_IDENTITY = tuple(f.name for f in fields(IdentityRecord))
_MEMBER = tuple(f.name for f in fields(MemberRecord))
_CONVERSATION = tuple(f.name for f in fields(ConversationRecord))
_UNIT = tuple(f"u_{name}" for name in UNIT_COLUMNS)
# Each record's columns out of the opening statement's row, in its fields' order.
_IDENTITY_OF = operator.itemgetter(*[f"i_{name}" for name in _IDENTITY])
_MEMBER_OF = operator.itemgetter(*[f"m_{name}" for name in _MEMBER])
_CONVERSATION_OF = operator.itemgetter(*[f"c_{name}" for name in _CONVERSATION])
_UNIT_OF = operator.itemgetter(*_UNIT)


def _unit(row: Any) -> UnitRecord:
    return UnitRecord(*_UNIT_OF(row))


@functools.cache
def _open_sql(*, recorded: bool) -> tuple[str, tuple[str, ...]]:
    """The SQL of ``open_update`` and the names of its parameters in order, made once."""
    compiled = _open_statement(recorded=recorded).compile(dialect=asyncpg_dialect())
    return compiled.string, tuple(compiled.positiontup or ())


def _open_statement(*, recorded: bool) -> Any:
    """The statement of ``open_update``; every result column labelled ``<table letter>_<name>``."""
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
            set_={"last_seen_at": day, "blocked_at": null()},
        )
        .returning(*identity_t.c)
        .cte("ident")
    )
    conv = (
        insert(Conversation)
        .from_select(
            ["identity_id", "data", "updated_at", "touched"],
            select(ident.c.id, literal_column("'{}'::jsonb", JSONB), day, touched),
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
    member_t, unit_t = Member.__table__, Unit.__table__
    return (
        select(
            *[ident.c[name].label(f"i_{name}") for name in _IDENTITY],
            *[conv.c[name].label(f"c_{name}") for name in _CONVERSATION],
            *[member_t.c[name].label(f"m_{name}") for name in _MEMBER],
            RoleGrant.id.label("g_id"),
            RoleGrant.role.label("g_role"),
            *[unit_t.c[name].label(f"u_{name}") for name in UNIT_COLUMNS],
            fresh.label("fresh"),
        )
        .select_from(ident)
        .join(conv, conv.c.identity_id == ident.c.id)
        .outerjoin(member_t, member_t.c.id == ident.c.member_id)
        .outerjoin(
            RoleGrant, and_(RoleGrant.member_id == member_t.c.id, RoleGrant.revoked_at.is_(None))
        )
        .outerjoin(unit_t, unit_t.c.id == RoleGrant.unit_id)
        .order_by(unit_t.c.depth, RoleGrant.role)
    )
