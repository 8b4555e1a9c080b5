"""An announcement's photo or leaflet, kept under the data dir for Zalo, before fan-out.

Zalo takes a photo only by URL and cannot carry a document, so before an
announcement with a file is fanned out to an audience with Zalo chats, its file
is kept content-addressed in ``<data_dir>/media`` (``bot.channels.media_store``):

- given to ``antt broadcast send``: the bytes the broadcast carries are written;
- sent in chat: fetched once through the channel it came on (``FileSource.fetch``:
  Telegram's ``getFile``, Zalo's URL) by a process that has that channel; a process
  without it leaves the announcement to one that has it.

The kept path goes into ``content["media"]["stored"]`` and the messages are
rendered again: Telegram still sends the uploaded file by its file id, Zalo gets
the kept copy by a signed link (``bot.media_links``: a photo by ``sendPhoto``, a
document as a line of the text with its name). A file that cannot be kept within
``KEEP_WAIT`` of the send time is given up (``media.keep_error``, logged): Zalo
recipients then get the text alone, and nobody waits longer.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import logging
from collections.abc import Collection, Mapping
from typing import Any

from bot.channels.base import Channel, FileSource
from bot.channels.media_store import media_root, store_bytes
from bot.config import Settings
from db import broadcasts as repo
from db.models import BroadcastStatus, Unit
from db.session import Database, UnitOfWork
from handlers.types import MediaRef

log = logging.getLogger(__name__)
KEEP_WAIT = dt.timedelta(minutes=5)
NEEDS_A_URL = "zalo"  # the channel that takes files only by URL


async def keep_file(
    db: Database,
    settings: Settings,
    broadcast_id: int,
    now: dt.datetime,
    *,
    channels: Mapping[str, Channel] | None = None,
    served: Collection[str] | None = None,
) -> bool:
    """True when the announcement may be fanned out (its file kept, not needed, or given
    up); False while its file is still to be fetched by a process that can."""
    async with db.sessions() as session:
        b = await repo.get(session, broadcast_id)
        if b is None or b.status != BroadcastStatus.SCHEDULED:
            return True  # fan-out has begun: its messages stay as they are
        media: dict[str, Any] = dict(b.content.get("media") or {})
        if not media or media.get("stored") or media.get("keep_error"):
            return True
        if served is not None and NEEDS_A_URL not in served:
            return True
        unit = await session.get(Unit, b.unit_id)
        assert unit is not None
        count = await repo.count_audience(
            session, unit, list(b.audience.get("roles", [])), bool(b.audience.get("citizens"))
        )
        if not count.by_channel.get(NEEDS_A_URL):
            return True
        due = b.send_at or b.created_at
    data, error = await _fetch(media, channels or {})
    if data is None and error is None and now < due + KEEP_WAIT:
        return False  # another process has the file's channel
    async with UnitOfWork(db) as uow:
        b = await repo.get(uow.session, broadcast_id, lock=True)
        if b is None or b.status != BroadcastStatus.SCHEDULED:
            return True
        if data is not None:
            path = await asyncio.to_thread(store_bytes, media_root(settings.data_dir), data)
            media = {k: v for k, v in media.items() if k != "data"}
            media.update(stored=str(path[1]), sha256=path[0], size=len(data))
            if media.get("channel") == "zalo":
                media["file_id"] = ""  # Zalo's URL expires: the kept copy is the file now
            log.info("announcement %s: its %s is kept for Zalo", b.id, media["kind"])
        elif error is not None and now < due + KEEP_WAIT:
            log.warning("announcement %s: file not fetched (%s); trying again", b.id, error)
            return False
        else:
            media["keep_error"] = error or "no process could fetch it"
            log.warning(
                "announcement %s goes to Zalo without its file: %s", b.id, media["keep_error"]
            )
        from handlers.broadcast import render_all

        content = {**b.content, "media": media}
        b.content = content
        b.messages = render_all(content)
        await uow.commit()
    return True


async def _fetch(
    media: dict[str, Any], channels: Mapping[str, Channel]
) -> tuple[bytes | None, str | None]:
    """(the file, None), (None, why it failed), or (None, None): no channel here to fetch it."""
    if media.get("data"):
        return base64.b64decode(media["data"]), None
    source = channels.get(str(media.get("channel") or "telegram"))
    if not media.get("file_id") or not isinstance(source, FileSource):
        return None, None
    ref = MediaRef(media["kind"], media["file_id"], size=media.get("size"), name=media.get("name"))
    try:
        return await source.fetch(ref), None
    except Exception as exc:  # noqa: BLE001 - tried again until KEEP_WAIT, then given up
        return None, f"{type(exc).__name__}: {exc}"[:300]
