"""Keeping files people sent (``bot.channels.media_store``) on real PostgreSQL: content
addressed, each once, and files that can no longer be fetched never hold back others."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from sqlalchemy import select

from bot.channels.media_store import MediaFetcher, store_bytes
from db.models import Attachment
from db.session import Database


async def add_files(db: Database, urls: list[str]) -> None:
    async with db.sessions() as s:
        for url in urls:
            s.add(
                Attachment(owner_kind="tip", owner_id=1, channel="zalo", file_id=url, kind="photo")
            )
        await s.commit()


async def test_twenty_five_dead_urls_do_not_hold_back_a_live_one(
    db: Database, tmp_path: Path
) -> None:
    dead = [f"https://zdn.example/dead-{n}.jpg" for n in range(25)]
    await add_files(db, [*dead, "https://zdn.example/live.jpg"])
    tried: list[str] = []

    async def download(row: Attachment) -> bytes:
        tried.append(row.file_id)
        if "dead" in row.file_id:
            raise OSError("404 Not Found")
        return b"live photo"

    now = [dt.datetime(2025, 5, 5, 2, 0, tzinfo=dt.UTC)]
    fetcher = MediaFetcher(db, "zalo", download, tmp_path, clock=lambda: now[0])
    assert await fetcher.fetch_pending() == 1
    assert sorted(tried) == sorted([*dead, "https://zdn.example/live.jpg"])  # each tried once
    digest = hashlib.sha256(b"live photo").hexdigest()
    async with db.sessions() as s:
        kept = (
            await s.execute(
                select(Attachment.file_id, Attachment.sha256, Attachment.size).where(
                    Attachment.stored_path.is_not(None)
                )
            )
        ).all()
    assert kept == [("https://zdn.example/live.jpg", digest, 10)]
    assert (tmp_path / "media" / digest[:2] / digest).read_bytes() == b"live photo"
    tried.clear()
    assert await fetcher.fetch_pending() == 0  # within the backoff nothing is tried
    assert tried == []
    now[0] += dt.timedelta(minutes=1)  # the first backoff is one minute
    assert await fetcher.fetch_pending() == 0  # then the dead ones are tried again
    assert sorted(tried) == sorted(dead)


def test_store_bytes_is_content_addressed_and_idempotent(tmp_path: Path) -> None:
    digest, path = store_bytes(tmp_path, b"abc")
    assert digest == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert path == tmp_path / "ba" / digest and path.read_bytes() == b"abc"
    assert store_bytes(tmp_path, b"abc") == (digest, path)
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [digest]
