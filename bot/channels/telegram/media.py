"""``ANTT_STORE_MEDIA=1``: keep a copy of every file sent on Telegram under the data dir.

Tips and check-ins keep Telegram's file id at once; ``bot.channels.media_store``
then downloads each file not yet kept (getFile + the file URL), cleans it
(``bot.media_clean``: images without their metadata) and writes it
content-addressed. A file announced larger than bots may download
(``DOWNLOAD_LIMIT``) is never tried.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.channels.media_store import MediaFetcher
from bot.channels.telegram.adapter import CHANNEL
from bot.channels.telegram.channel import DOWNLOAD_LIMIT
from db.models import Attachment, utcnow
from db.session import Database


def telegram_fetcher(
    db: Database, bot: Any, data_dir: Path, *, clock: Callable[[], dt.datetime] = utcnow
) -> MediaFetcher:
    """A fetcher of Telegram's files through ``bot`` (a ``telegram.Bot``)."""

    async def download(row: Attachment) -> bytes:
        file = await bot.get_file(row.file_id)
        return bytes(await file.download_as_bytearray())

    return MediaFetcher(db, CHANNEL, download, data_dir, clock=clock, max_bytes=DOWNLOAD_LIMIT)
