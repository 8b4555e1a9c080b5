"""Conversation state per identity, and the record of processed updates."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Conversation, ProcessedUpdate


async def record_update(session: AsyncSession, channel: str, update_id: str) -> bool:
    """Record an update id; False when it was already processed (a redelivery)."""
    stmt = (
        insert(ProcessedUpdate)
        .values(channel=channel, update_id=update_id)
        .on_conflict_do_nothing()
        .returning(ProcessedUpdate.update_id)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def lock_conversation(session: AsyncSession, identity_id: int) -> Conversation:
    """The identity's conversation row, created if missing and locked until commit.

    The lock serialises two quick taps by one person; different people never wait
    on each other.
    """
    await session.execute(
        insert(Conversation)
        .values(identity_id=identity_id, data={})
        .on_conflict_do_nothing(index_elements=["identity_id"])
    )
    stmt = (
        select(Conversation)
        .where(Conversation.identity_id == identity_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).scalar_one()
