"""Files people send, kept under the data dir: one place for every channel.

``store_bytes`` writes a file content-addressed as
``<data_dir>/media/<sha256[:2]>/<sha256>`` (the one function that puts a
reporter's file on disk: clean it here before it is written). ``MediaFetcher``
downloads the attachments of one channel not yet kept (each channel gives its
own ``download``), records path, size and checksum, and runs after updates and
on start; rows are claimed with SKIP LOCKED, so several processes share the
work, and a failed download is retried next time.

Telegram keeps files when ``ANTT_STORE_MEDIA=1``; Zalo always does, because its
media URLs expire (within about a month).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from db.attachments import record_stored, waiting_for_download
from db.models import Attachment
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
    """Downloads the attachments of ``channel`` into the data dir."""

    def __init__(self, db: Database, channel: str, download: Download, data_dir: Path) -> None:
        self.db = db
        self.channel = channel
        self.download = download
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
        """Download what is waiting; the number of files kept.

        A file that fails is skipped for the rest of this run (retried on the next), so
        files that can no longer be fetched never hold back newer ones.
        """
        kept = 0
        failed: set[int] = set()
        async with self._lock:
            while True:
                async with UnitOfWork(self.db) as uow:
                    rows = await waiting_for_download(uow.session, self.channel, skip=failed)
                    if not rows:
                        return kept
                    done = 0
                    for row in rows:
                        try:
                            content = await self.download(row)
                        except Exception as exc:  # noqa: BLE001 - retried on the next run
                            log.warning("attachment %s not downloaded: %s", row.id, exc)
                            failed.add(row.id)
                            continue
                        digest, path = await asyncio.to_thread(store_bytes, self.root, content)
                        await record_stored(
                            uow.session, row.id, sha256=digest, size=len(content), path=str(path)
                        )
                        done += 1
                    await uow.commit()
                kept += done

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
