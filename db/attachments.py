"""Attachments whose files still have to be fetched, and recording where a file was kept."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Attachment


async def waiting_for_download(
    session: AsyncSession, channel: str, *, limit: int = 20, skip: Collection[int] = ()
) -> Sequence[Attachment]:
    """Attachments of ``channel`` not yet kept on disk (but ``skip``), oldest first, locked
    for this fetcher."""
    stmt = (
        select(Attachment)
        .where(
            Attachment.channel == channel,
            Attachment.stored_path.is_(None),
            Attachment.id.not_in(skip),
        )
        .order_by(Attachment.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return (await session.execute(stmt)).scalars().all()


async def record_stored(
    session: AsyncSession, attachment_id: int, *, sha256: str, size: int, path: str
) -> None:
    await session.execute(
        update(Attachment)
        .where(Attachment.id == attachment_id)
        .values(sha256=sha256, size=size, stored_path=path)
    )
