"""Files people send, kept under the data dir: one place for every channel.

``store_bytes`` writes a file content-addressed as
``<data_dir>/media/<sha256[:2]>/<sha256>`` (the one function that puts a
reporter's file on disk: clean it here before it is written). ``MediaFetcher``
downloads the attachments of one channel not yet kept (each channel gives its
own ``download``), records path, size and checksum, and runs after updates and
on start; rows are claimed with SKIP LOCKED, so several processes share the
work, and a failed download is retried after a growing backoff, a few times.

Telegram keeps files when ``ANTT_STORE_MEDIA=1``; Zalo always does, because its
media URLs expire (within about a month).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from bot.media_clean import clean_file
from db.attachments import record_failure, record_skipped, record_stored, waiting_for_download
from db.models import Attachment, utcnow
from db.session import Database, UnitOfWork

log = logging.getLogger(__name__)

Download = Callable[[Attachment], Awaitable[bytes]]


def media_root(data_dir: Path) -> Path:
    return data_dir.expanduser().resolve() / "media"


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
    """Downloads the attachments of ``channel`` into the data dir, cleaned.

    A file announced larger than ``max_bytes`` is never tried; a failed download is
    tried again after a growing backoff, a few times (``db.attachments``); neither
    holds back the files after it. Photos and documents are kept as
    ``bot.media_clean`` leaves them: images without their metadata.
    """

    def __init__(
        self,
        db: Database,
        channel: str,
        download: Download,
        data_dir: Path,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        max_bytes: int | None = None,
    ) -> None:
        self.db = db
        self.channel = channel
        self.download = download
        self.clock = clock
        self.max_bytes = max_bytes
        self.root = media_root(data_dir)
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
        """Download what is due; the number of files kept."""
        kept = 0
        async with self._lock:
            while True:
                async with UnitOfWork(self.db) as uow:
                    rows = await waiting_for_download(uow.session, self.channel, self.clock())
                    if not rows:
                        return kept
                    for row in rows:
                        kept += await self._fetch(uow.session, row)
                    await uow.commit()

    async def _fetch(self, session: AsyncSession, row: Attachment) -> int:
        """Download, clean and keep one file (1), or record why not (0)."""
        if self.max_bytes is not None and row.size is not None and row.size > self.max_bytes:
            await record_skipped(session, row, f"larger than {self.max_bytes} bytes")
            return 0
        try:
            content = await self.download(row)
        except Exception as exc:  # noqa: BLE001 - tried again after a backoff
            log.warning("attachment %s not downloaded: %s", row.id, exc)
            await record_failure(session, row, str(exc) or type(exc).__name__, self.clock())
            return 0
        if row.kind in ("photo", "document"):
            cleaned = await asyncio.to_thread(clean_file, content, label="", original_name=None)
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
