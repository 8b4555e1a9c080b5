"""ANTT_STORE_MEDIA downloads against the fake Bot API: none can block the others.

Files announced over the 20 MB a bot may download are skipped without a getFile;
a failing download is retried after a growing backoff, a few times, and recorded;
what is kept is the cleaned copy.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select
from telegram import Bot

from bot.channels.telegram.media import telegram_fetcher
from db.attachments import MAX_ATTEMPTS
from db.models import Attachment
from db.session import Database
from tests.e2e.telegram_support import TOKEN
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.support import Clock, photo_with_exif

BIG = 21 * 1024 * 1024


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI(token=TOKEN) as fake:
        yield fake


@pytest.fixture
async def bot(api: FakeTelegramAPI) -> AsyncIterator[Bot]:
    async with Bot(
        TOKEN, base_url=f"{api.root_url}/bot", base_file_url=f"{api.root_url}/file/bot"
    ) as tg:
        yield tg


async def add(db: Database, file_id: str, kind: str, size: int | None) -> None:
    async with db.sessions() as s:
        s.add(
            Attachment(
                owner_kind="tip",
                owner_id=1,
                channel="telegram",
                file_id=file_id,
                kind=kind,
                size=size,
            )
        )
        await s.commit()


async def rows(db: Database) -> dict[str, Attachment]:
    async with db.sessions() as s:
        return {a.file_id: a for a in (await s.execute(select(Attachment))).scalars()}


async def test_twenty_files_over_the_limit_do_not_block_the_next(
    db: Database, api: FakeTelegramAPI, bot: Bot, tmp_path: Path
) -> None:
    for i in range(20):
        await add(db, f"huge-{i}", "video", BIG)
    api.add_file("photo-doc", photo_with_exif(), "documents/Nguyen_Van_A.jpg")
    await add(db, "photo-doc", "document", 2000)
    fetcher = telegram_fetcher(db, bot, tmp_path)
    assert await fetcher.fetch_pending() == 1
    found = await rows(db)
    assert all("larger than" in (found[f"huge-{i}"].download_error or "") for i in range(20))
    asked = [c.params["file_id"] for c in api.calls if c.method == "getFile"]
    assert asked == ["photo-doc"]  # not one getFile for the huge ones
    kept = Path(found["photo-doc"].stored_path or "")
    assert kept.is_relative_to(tmp_path)
    content = await asyncio.to_thread(kept.read_bytes)
    assert b"PhoneMaker" not in content and content.startswith(b"\xff\xd8")  # the clean copy
    assert await fetcher.fetch_pending() == 0
    assert [c.params["file_id"] for c in api.calls if c.method == "getFile"] == ["photo-doc"]


async def test_a_failing_download_is_retried_with_backoff_then_given_up(
    db: Database, api: FakeTelegramAPI, bot: Bot, tmp_path: Path
) -> None:
    clock = Clock(dt.datetime(2025, 5, 5, 2, 0, tzinfo=dt.UTC))
    api.add_file("flaky", b"%PDF-1.4 evidence", "documents/a.pdf")
    api.add_file("fine", b"%PDF-1.4 other", "documents/b.pdf")
    await add(db, "flaky", "document", 17)
    await add(db, "fine", "document", 14)
    fetcher = telegram_fetcher(db, bot, tmp_path, clock=clock)
    api.fail_next("getFile", 500, "Internal Server Error")  # the first call: "flaky"
    assert await fetcher.fetch_pending() == 1  # "fine" is not held back
    found = await rows(db)
    assert found["fine"].stored_path is not None
    assert found["flaky"].download_attempts == 1 and found["flaky"].stored_path is None
    assert found["flaky"].download_after == clock.now + dt.timedelta(minutes=1)
    assert "Internal Server Error" in (found["flaky"].download_error or "")
    assert await fetcher.fetch_pending() == 0
    assert len(api.failed_calls) == 1  # not due yet: not asked again

    waits = []
    for attempt in range(2, MAX_ATTEMPTS + 1):
        clock.advance(minutes=2 ** (attempt - 2))  # exactly when it falls due
        api.fail_next("getFile", 500, "Internal Server Error")
        assert await fetcher.fetch_pending() == 0
        found = await rows(db)
        assert found["flaky"].download_attempts == attempt
        waits.append(found["flaky"].download_after - clock.now)  # type: ignore[operator]
    assert waits == [dt.timedelta(minutes=m) for m in (2, 4, 8, 16)]
    assert len(api.failed_calls) == MAX_ATTEMPTS
    clock.advance(days=2)
    assert await fetcher.fetch_pending() == 0  # given up: never asked again
    assert len(api.failed_calls) == MAX_ATTEMPTS
    assert len(api.calls_of("getFile")) == 1  # only "fine" was ever answered
