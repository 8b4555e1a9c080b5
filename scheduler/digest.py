"""The daily digest job: every supervisor's digest, queued to the outbox once a day.

Each reachable identity of a member with an active supervisor grant gets one
outbox row a local day, keyed ``digest:{identity}:{yyyy-mm-dd}``: however many
processes run the job, and however often, each supervisor is sent one digest a
day. Keys already queued are read first, so a second run skips the work too; a
run that races another one builds the digest and then inserts nothing.

The digest of a unit is built once per run and shared by everyone who
supervises it; its messages are rendered once per language (the chart in a
worker thread, so the event loop keeps serving updates). Each supervisor's row
is its own short transaction: one failing digest does not hold back the others.
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import partial
from zoneinfo import ZoneInfo

from bot.config import Settings
from db import digest as repo
from db.digest import DigestData
from db.session import Database, UnitOfWork
from handlers.digest import digest_messages
from handlers.i18n import current_language, pick_language, set_language
from handlers.notify import enqueue
from handlers.types import Message

log = logging.getLogger(__name__)


def digest_key(identity_id: int, day: dt.date) -> str:
    return f"digest:{identity_id}:{day.isoformat()}"


async def messages_in(lang: str, digests: list[DigestData], *, chart: bool = True) -> list[Message]:
    """The digests rendered in ``lang``."""
    previous = current_language()
    set_language(lang)
    try:
        return await digest_messages(digests, chart=chart)
    finally:
        set_language(previous)


async def send_digests(db: Database, settings: Settings, now: dt.datetime) -> int:
    """Queue today's digest for every supervisor who has none yet; how many were queued."""
    today = now.astimezone(ZoneInfo(settings.timezone)).date()
    async with db.sessions() as session:
        recipients = await repo.supervisor_recipients(session)
        keys = [digest_key(r.identity.id, today) for r in recipients]
        queued_before = await repo.existing_keys(session, keys)
    built: dict[int, DigestData] = {}
    rendered: dict[tuple[tuple[int, ...], str], list[Message]] = {}
    queued = failed = 0
    for recipient, key in zip(recipients, keys, strict=True):
        if key in queued_before or not recipient.roots:
            continue
        lang = pick_language(recipient.identity.language)
        try:
            async with UnitOfWork(db) as uow:
                which = (tuple(u.id for u in recipient.roots), lang)
                messages = rendered.get(which)
                if messages is None:
                    for root in recipient.roots:
                        if root.id not in built:
                            built[root.id] = await repo.build_digest(uow.session, root, now, today)
                    digests = [built[u.id] for u in recipient.roots]
                    messages = rendered[which] = await messages_in(lang, digests)
                if await enqueue(
                    uow.session,
                    recipient.identity,
                    partial(list, messages),
                    dedup_key=key,
                    not_before=now,
                ):
                    queued += 1
                await uow.commit()
        except Exception:
            failed += 1
            log.exception("digest for identity %s failed", recipient.identity.id)
    log.info(
        "daily digests for %s: %d queued, %d already queued, %d failed",
        today.isoformat(),
        queued,
        len(queued_before),
        failed,
    )
    return queued
