"""Updates that arrive while PostgreSQL is stopped: held, then answered, never lost or doubled.

Real PTB over HTTP against the fake Bot API; a PostgreSQL of its own (``faulty``)
that the test stops and starts.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from db.models import ProcessedUpdate
from db.session import Database
from tests.e2e.telegram_support import SECRET, TOKEN, bot_running, webhook_url
from tests.fakes.telegram_api import ApiCall, FakeTelegramAPI
from tests.faulty_pg import FaultyPostgres

BUSY = "The system is busy. Your message is kept and will be answered shortly."
MENU = "What would you like to do?"


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI(token=TOKEN) as fake:
        yield fake
        fake.assert_no_violations()


def texts(api: FakeTelegramAPI, chat_id: int) -> list[str]:
    return [c.plain_text or "" for c in api.sent_messages(chat_id)]


async def handled(db: Database) -> int:
    async with db.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(ProcessedUpdate)) or 0)


def is_text(chat_id: int, fragment: str):  # type: ignore[no-untyped-def]
    def check(call: ApiCall) -> bool:
        return call.chat_id == chat_id and fragment in (call.plain_text or "")

    return check


async def test_polling_holds_updates_through_an_outage(
    api: FakeTelegramAPI, faulty: FaultyPostgres, fdb: Database
) -> None:
    async with bot_running(api, fdb, busy_notice_seconds=0.5, update_retry_max_seconds=0.3) as rt:
        api.user_message(501, "/start", language_code="en")
        await api.wait_for(is_text(501, MENU), 10)
        await faulty.stop()
        api.user_message(501, "/help", language_code="en")
        api.user_message(501, "/menu", language_code="en")
        api.user_message(502, "/start", language_code="en")
        await api.wait_for(is_text(501, BUSY), 10)
        await api.wait_for(is_text(502, BUSY), 10)
        await asyncio.sleep(1.0)  # held for a while: still one notice each
        await faulty.start()
        await api.wait_for(is_text(502, MENU), 20)
        await api.wait_for(is_text(501, MENU), 20, count=2)
        await asyncio.sleep(0.5)
        assert rt.telegram is not None and not rt.telegram.bridge.unstored
    one = texts(api, 501)
    assert one.count(BUSY) == 1
    after = one[one.index(BUSY) + 1 :]
    # /help's answer, then /menu's, in the order they were sent
    assert len(after) == 2 and MENU not in after[0] and MENU in after[1]
    assert texts(api, 502).count(BUSY) == 1 and MENU in texts(api, 502)[-1]
    assert await handled(fdb) == 4


async def test_webhook_answers_503_until_the_update_is_stored(
    api: FakeTelegramAPI, faulty: FaultyPostgres, fdb: Database
) -> None:
    async with bot_running(api, fdb, webhook=True, webhook_hold_seconds=0.5) as rt:
        url = webhook_url(rt)
        update = api.user_message(601, "/start", language_code="en", push=False)
        await faulty.stop()
        assert await api.post_webhook(url, update, secret=SECRET) == 503
        assert await api.post_webhook(url, update, secret=SECRET) == 503
        assert texts(api, 601) == []
        await faulty.start()
        assert await api.post_webhook(url, update, secret=SECRET) == 200
        assert await api.post_webhook(url, update, secret=SECRET) == 200  # a redelivery
    assert len([t for t in texts(api, 601) if MENU in t]) == 1
    assert await handled(fdb) == 1


async def test_an_update_held_when_the_bot_stops_is_handled_at_the_next_start(
    api: FakeTelegramAPI, faulty: FaultyPostgres, fdb: Database, tmp_path: Path
) -> None:
    async with bot_running(api, fdb, update_retry_max_seconds=0.3, data_dir=tmp_path) as rt:
        api.user_message(701, "/start", language_code="en")
        await api.wait_for(is_text(701, MENU), 10)
        await faulty.stop()
        api.user_message(701, "/help", language_code="en")
        engine = rt.engine
        async with asyncio.timeout(10):
            while not engine._held_since:  # noqa: ASYNC110 (the engine's own bookkeeping)
                await asyncio.sleep(0.05)
    # stopped while /help was held; the database returns, a new process starts
    await faulty.start()
    since = api.mark()
    assert not api.pending_updates  # Telegram considers it delivered
    async with bot_running(api, fdb, data_dir=tmp_path):
        await api.wait_for(lambda c: c.chat_id == 701, 20, since=since)
        await asyncio.sleep(0.3)
    answers = [c.plain_text or "" for c in api.sent_messages(701) if c.seq >= since]
    assert len(answers) == 1 and "how to use it" in answers[0]  # /help's answer, once
    assert not list((tmp_path / "held" / "telegram").glob("*"))
    assert await handled(fdb) == 2


async def test_updates_are_on_disk_only_while_the_database_is_down(
    api: FakeTelegramAPI, faulty: FaultyPostgres, fdb: Database, tmp_path: Path
) -> None:
    folder = tmp_path / "held" / "telegram"

    def on_disk() -> set[str]:
        return {p.name for p in folder.glob("*")} if folder.is_dir() else set()

    async def until(condition: Callable[[], bool], within: float) -> None:
        async with asyncio.timeout(within):
            while not condition():  # noqa: ASYNC110 (files: no event to wait on)
                await asyncio.sleep(0.02)

    overrides = {"update_retry_max_seconds": 0.3, "busy_notice_seconds": 600}
    async with bot_running(api, fdb, data_dir=tmp_path, **overrides):
        api.user_message(801, "/start", language_code="en")
        await api.wait_for(is_text(801, MENU), 10)
        assert not (tmp_path / "held").exists()  # the database answered: nothing written
        await faulty.stop()
        helped = api.user_message(801, "/help", language_code="en")
        menu = api.user_message(801, "/menu", language_code="en")
        # on disk from /help's first failed try (/menu with it, or as it comes in behind it)
        both = {f"{helped['update_id']}.json", f"{menu['update_id']}.json"}
        await until(lambda: on_disk() == both, 10)
        since = api.mark()
        await faulty.start()
        await api.wait_for(is_text(801, MENU), 20, since=since)
        await until(lambda: not on_disk(), 5)  # handled: the files are gone, no kill needed
        written = folder.stat().st_mtime_ns
        since = api.mark()
        api.user_message(801, "/menu", language_code="en")
        await api.wait_for(is_text(801, MENU), 10, since=since)
        await asyncio.sleep(0.2)
        # the database answers again: no file written (nor written and removed)
        assert folder.stat().st_mtime_ns == written and not on_disk()
    assert not on_disk()  # nor at the stop
    answers = texts(api, 801)
    assert len(answers) == 4 and "how to use it" in answers[1] and MENU in answers[2]
    assert await handled(fdb) == 4
