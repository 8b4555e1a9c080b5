"""The daily digest job: every supervisor's digest, queued to the outbox once a day.

Each reachable identity of a member with an active supervisor grant gets one
outbox row a local day, keyed ``digest:{identity}:{yyyy-mm-dd}``: however many
processes run the job, and however often, each supervisor is sent one digest a
day. Keys already queued are read first, so a second run skips the work too; a
run that races another one builds the digest and then inserts nothing.

A run builds each unit's digest once (however many people supervise it) and
renders each set of units once per language; its chart (``handlers.chart``, about
ten milliseconds of Pillow) is drawn in a thread, so the event loop goes on building
the next digests and never waits on a chart.
Each supervisor's row is its own short transaction: one failing digest does not
hold back the others.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import Counter
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import Settings
from db import digest as repo
from db.digest import DigestData, Recipient
from db.models import Unit
from db.session import Database, UnitOfWork
from handlers.digest import digest_messages
from handlers.i18n import current_language, pick_language, set_language
from handlers.notify import enqueue
from handlers.types import Message

log = logging.getLogger(__name__)

Which = tuple[tuple[int, ...], str]  # the units of a digest and its language


def digest_key(identity_id: int, day: dt.date) -> str:
    return f"digest:{identity_id}:{day.isoformat()}"


async def messages_in(lang: str, digests: list[DigestData], *, chart: bool = True) -> list[Message]:
    """The digests rendered in ``lang``, each chart drawn in a thread."""
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
    todo: list[tuple[Recipient, str, Which]] = [
        (r, key, (tuple(u.id for u in r.roots), pick_language(r.identity.language)))
        for r, key in zip(recipients, keys, strict=True)
        if key not in queued_before and r.roots
    ]
    # How many recipients share each rendering: it is dropped once they all have it.
    users = Counter(which for _, _, which in todo)
    units = {u.id: u for r, _, _ in todo for u in r.roots}
    rendered, builder = _render_all(db, now, today, todo, units)
    try:
        queued, failed = await _queue_all(now, db, todo, rendered, users)
    finally:
        pending: list[asyncio.Future[Any]] = [builder, *rendered.values()]
        for task in pending:
            task.cancel()
    log.info(
        "daily digests for %s: %d queued, %d already queued, %d failed",
        today.isoformat(),
        queued,
        len(queued_before),
        failed,
    )
    return queued


async def _queue_all(
    now: dt.datetime,
    db: Database,
    todo: list[tuple[Recipient, str, Which]],
    rendered: dict[Which, asyncio.Future[list[Message]]],
    users: Counter[Which],
) -> tuple[int, int]:
    """Each recipient's row, in its own transaction, as its digest is ready: (queued, failed)."""
    queued = failed = 0
    for recipient, key, which in todo:
        try:
            messages = await rendered[which]
            async with UnitOfWork(db) as uow:
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
        users[which] -= 1
        if not users[which]:
            del rendered[which]
    return queued, failed


def _render_all(
    db: Database,
    now: dt.datetime,
    today: dt.date,
    todo: list[tuple[Recipient, str, Which]],
    units: dict[int, Unit],
) -> tuple[dict[Which, asyncio.Future[list[Message]]], asyncio.Future[None]]:
    """One future per (units, language): the digests are built one unit after the other
    (each once) and each rendering starts as soon as its units are built."""
    loop = asyncio.get_running_loop()
    built: dict[int, asyncio.Future[DigestData]] = {}
    order: list[int] = []
    for _, _, (ids, _) in todo:
        for unit_id in ids:
            if unit_id not in built:
                built[unit_id] = loop.create_future()
                order.append(unit_id)

    async def build_all() -> None:
        for unit_id in order:
            future = built[unit_id]
            try:
                async with db.sessions() as session:
                    future.set_result(await repo.build_digest(session, units[unit_id], now, today))
            except Exception as exc:  # its recipients fail; the others go on
                future.set_exception(exc)

    async def render(which: Which) -> list[Message]:
        ids, lang = which
        digests = [await built[unit_id] for unit_id in ids]
        return await messages_in(lang, digests)

    builder = asyncio.ensure_future(build_all())
    rendered: dict[Which, asyncio.Future[list[Message]]] = {}
    for _, _, which in todo:
        if which not in rendered:
            rendered[which] = asyncio.ensure_future(render(which))
    return rendered, builder
