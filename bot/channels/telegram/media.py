"""``ANTT_STORE_MEDIA=1``: keep a copy of every attached file under the data dir.

Tips and check-ins keep Telegram's file id at once; this fetcher then downloads
each file not yet kept (getFile + the file URL), writes it content-addressed as
``<data_dir>/media/<sha256[:2]>/<sha256>`` and records the path, size and
checksum. It runs after updates and on start; rows are claimed with SKIP LOCKED,
so several processes share the work.

What is kept is the cleaned copy (``bot.media_clean``): images without their
metadata. A file announced larger than bots may download is never tried; a failed
download is tried again after a growing backoff, a few times
(``db.attachments``); neither holds back the files after it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.channels.telegram.adapter import CHANNEL
from bot.channels.telegram.channel import DOWNLOAD_LIMIT
from bot.media_clean import clean_file
from db.attachments import record_failure, record_skipped, record_stored, waiting_for_download
from db.models import Attachment, utcnow
from db.session import Database, UnitOfWork

log = logging.getLogger(__name__)


def store_bytes(root: Path, content: bytes) -> tuple[str, Path]:
    """Write ``content`` content-addressed under ``root``; return its sha256 and path."""
    digest = hashlib.sha256(content).hexdigest()
    path = root / digest[:2] / digest
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(content)
        tmp.replace(path)
    return digest, path


class MediaFetcher:
    """Downloads attachments of the Telegram channel into the data dir."""

    def __init__(
        self, db: Database, bot: Any, data_dir: Path, *, clock: Callable[[], dt.datetime] = utcnow
    ) -> None:
        self.db = db
        self.bot = bot
        self.clock = clock
        self.root = data_dir.expanduser().resolve() / "media"
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._again = False

    def kick(self) -> None:
        """Fetch in the background: one run at a time, run again if kicked meanwhile."""
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            self._again = False
            try:
                await self.fetch_pending()
            except Exception:
                log.exception("media fetch failed")
            if not self._again:
                return

    async def idle(self) -> None:
        """Wait until no fetch is running (tests, shutdown)."""
        while self._task is not None and not self._task.done():
            await asyncio.wait({self._task})

    async def fetch_pending(self) -> int:
        """Download what is waiting; the number of files kept."""
        kept = 0
        async with self._lock:
            while True:
                async with UnitOfWork(self.db) as uow:
                    rows = await waiting_for_download(uow.session, CHANNEL, self.clock())
                    if not rows:
                        return kept
                    for row in rows:
                        kept += await self._fetch(uow.session, row)
                    await uow.commit()

    async def _fetch(self, session: Any, row: Attachment) -> int:
        """Download, clean and keep one file (1), or record why not (0)."""
        if row.size is not None and row.size > DOWNLOAD_LIMIT:
            await record_skipped(session, row, f"larger than {DOWNLOAD_LIMIT} bytes")
            return 0
        try:
            file = await self.bot.get_file(row.file_id)
            content = bytes(await file.download_as_bytearray())
        except Exception as exc:  # noqa: BLE001 - tried again after a backoff
            log.warning("attachment %s not downloaded: %s", row.id, exc)
            await record_failure(session, row, str(exc) or type(exc).__name__, self.clock())
            return 0
        if row.kind in ("photo", "document"):
            cleaned = await asyncio.to_thread(
                clean_file, content, label="", original_name=file.file_path
            )
            if cleaned is None:
                await record_skipped(session, row, "an image too large to clean")
                return 0
            content = cleaned.content
        digest, path = await asyncio.to_thread(store_bytes, self.root, content)
        await record_stored(session, row.id, sha256=digest, size=len(content), path=str(path))
        return 1

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
