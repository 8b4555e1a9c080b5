"""Rate limits as keyed counters: how often someone did something, without saying who.

A limit counts hits per ``(kind, subject)`` in five-minute buckets. Each bucket is
one ``rate_count`` row whose key is a keyed digest (``db.sealed.keyed_tag``) of the
kind, the subject (an identity id, a tip id) and the bucket's start: without the
key, a row names nobody, and two buckets of one person cannot be told to belong
together. Only the bucket's start is stored, never the moment of the hit, and
every row is deleted once its kind's window has passed (``purge``).

A hit is reported back as the end of its bucket (the latest moment it can have
happened), so "you may try again at T" is never early.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from db.models import RateCount
from db.sealed import keyed_tag

BUCKET = dt.timedelta(minutes=5)
_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)

# kinds
TIP_SUBMIT = "tip_submit"
TIP_LOOKUP_FAIL = "tip_lookup_fail"
INVITE_FAIL = "invite_fail"
INVITE_LOCK = "invite_lock"


def windows(settings: Settings) -> dict[str, dt.timedelta]:
    """How far back each kind is ever looked at; rows older than that are deleted."""
    lock = dt.timedelta(minutes=settings.invite_lock_minutes)
    return {
        TIP_SUBMIT: dt.timedelta(hours=1),
        TIP_LOOKUP_FAIL: dt.timedelta(hours=2),
        INVITE_FAIL: lock,
        INVITE_LOCK: lock,
    }


def bucket_start(when: dt.datetime) -> dt.datetime:
    return when - (when - _EPOCH) % BUCKET


def _key(settings: Settings, kind: str, subject: object, start: dt.datetime) -> str:
    return keyed_tag(settings, "rate", kind, subject, start.isoformat())


async def hit(
    session: AsyncSession, settings: Settings, kind: str, subject: object, now: dt.datetime
) -> None:
    """Count one hit of ``kind`` by ``subject`` at ``now``."""
    start = bucket_start(now)
    stmt = insert(RateCount).values(
        key=_key(settings, kind, subject, start), kind=kind, window_start=start, count=1
    )
    await session.execute(
        stmt.on_conflict_do_update(index_elements=["key"], set_={"count": RateCount.count + 1})
    )


async def times(
    session: AsyncSession,
    settings: Settings,
    kind: str,
    subject: object,
    since: dt.datetime,
    now: dt.datetime,
) -> list[dt.datetime]:
    """The hits of ``kind`` by ``subject`` after ``since``, oldest first, each reported
    as the end of its bucket (so a hit counts until a full window after it)."""
    starts: dict[str, dt.datetime] = {}
    start = bucket_start(since)
    while start <= now:
        if start + BUCKET > since:
            starts[_key(settings, kind, subject, start)] = start
        start += BUCKET
    if not starts:
        return []
    rows = await session.execute(
        select(RateCount.key, RateCount.count).where(RateCount.key.in_(list(starts)))
    )
    found: list[dt.datetime] = []
    for key, count in rows.all():
        found += [starts[key] + BUCKET] * count
    return sorted(found)


async def purge(session: AsyncSession, settings: Settings, now: dt.datetime) -> int:
    """Delete the buckets whose kind's window has passed (unknown kinds after a day)."""
    kinds = windows(settings)
    deleted = 0
    for kind, window in kinds.items():
        result = await session.execute(
            delete(RateCount)
            .where(RateCount.kind == kind, RateCount.window_start + BUCKET < now - window)
            .returning(RateCount.key)
        )
        deleted += len(result.all())
    result = await session.execute(
        delete(RateCount)
        .where(
            RateCount.kind.not_in(list(kinds)),
            RateCount.window_start < now - dt.timedelta(days=1),
        )
        .returning(RateCount.key)
    )
    return deleted + len(result.all())
