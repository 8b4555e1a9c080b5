"""Attachments whose files still have to be fetched, and what became of each download.

A download that fails is tried again after a backoff that doubles (1, 2, 4 …
minutes, at most a day), at most ``MAX_ATTEMPTS`` times; a file announced larger
than the channel lets a bot download is never tried. Either way the attachment
records why (``download_error``), and it no longer holds back the others.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Attachment

MAX_ATTEMPTS = 5
FIRST_BACKOFF = dt.timedelta(minutes=1)
MAX_BACKOFF = dt.timedelta(days=1)


def backoff(attempts: int) -> dt.timedelta:
    """The wait after the ``attempts``-th failure (1, 2, 4 … minutes, at most a day)."""
    return min(FIRST_BACKOFF * 2 ** max(0, attempts - 1), MAX_BACKOFF)


async def waiting_for_download(
    session: AsyncSession, channel: str, now: dt.datetime, *, limit: int = 20
) -> Sequence[Attachment]:
    """Attachments of ``channel`` to fetch now, oldest first, locked for this fetcher."""
    stmt = (
        select(Attachment)
        .where(
            Attachment.channel == channel,
            Attachment.stored_path.is_(None),
            Attachment.download_attempts < MAX_ATTEMPTS,
            or_(Attachment.download_after.is_(None), Attachment.download_after <= now),
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
        .values(sha256=sha256, size=size, stored_path=path, download_error=None)
    )


async def record_failure(
    session: AsyncSession, row: Attachment, error: str, now: dt.datetime
) -> None:
    """Count a failed download; tried again after the backoff, until ``MAX_ATTEMPTS``."""
    attempts = row.download_attempts + 1
    await session.execute(
        update(Attachment)
        .where(Attachment.id == row.id)
        .values(
            download_attempts=attempts,
            download_after=now + backoff(attempts),
            download_error=error[:500],
        )
    )


async def record_skipped(session: AsyncSession, row: Attachment, reason: str) -> None:
    """Never to be downloaded (too large, or a file that cannot be cleaned)."""
    await session.execute(
        update(Attachment)
        .where(Attachment.id == row.id)
        .values(download_attempts=MAX_ATTEMPTS, download_error=reason[:500])
    )
