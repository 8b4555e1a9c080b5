"""Zalo during a database outage: the webhook answers 503 for an update it could not store
(so Zalo redelivers), and polling holds the update until the database is back."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest

from bot.config import Settings
from bot.runtime import Runtime, running
from db.session import Database
from tests.e2e.test_zalo import CITIZEN, PUBLIC_URL, SECRET
from tests.fakes.zalo_api import DEFAULT_TOKEN, FakeZaloAPI
from tests.faulty_pg import FaultyPostgres


@pytest.fixture
async def api() -> AsyncIterator[FakeZaloAPI]:
    async with FakeZaloAPI(long_poll_cap=0.5) as fake:
        yield fake
        fake.assert_no_violations()


@contextlib.asynccontextmanager
async def zalo_bot(api: FakeZaloAPI, db: Database, *, webhook: bool) -> AsyncIterator[Runtime]:
    settings = Settings(
        zalo_token=DEFAULT_TOKEN,
        zalo_api_url=api.root_url,
        zalo_webhook_secret=SECRET,
        web_host="127.0.0.1",
        web_port=0,
        webhook_hold_seconds=0.5,
        update_retry_max_seconds=0.3,
    )  # type: ignore[call-arg]
    async with running(
        settings, db=db, telegram=False, zalo=True, zalo_webhook_url=PUBLIC_URL if webhook else None
    ) as rt:
        yield rt


async def test_zalo_webhook_answers_503_while_the_database_is_down(
    api: FakeZaloAPI, faulty: FaultyPostgres, fdb: Database
) -> None:
    async with zalo_bot(api, fdb, webhook=True) as rt:
        local = rt.web.url + rt.settings.zalo_webhook_path
        update = api.user_text(CITIZEN, "/start", push=False)
        await faulty.stop()
        assert await api.post_webhook(local, update) == 503
        assert api.sent_messages(CITIZEN) == []
        await faulty.start()
        assert await api.post_webhook(local, update) == 200
        answered = len(api.sent_messages(CITIZEN))
        assert answered > 0
        assert await api.post_webhook(local, update) == 200  # a redelivery: no second answer
        assert len(api.sent_messages(CITIZEN)) == answered


async def test_zalo_polling_holds_the_update_until_the_database_is_back(
    api: FakeZaloAPI, faulty: FaultyPostgres, fdb: Database
) -> None:
    async with zalo_bot(api, fdb, webhook=False):
        await faulty.stop()
        since = api.mark()
        api.user_text(CITIZEN, "/start")
        with pytest.raises(TimeoutError):
            await api.wait_for("sendMessage", chat_id=CITIZEN, since=since, timeout=1.5)
        await faulty.start()
        await api.wait_for("sendMessage", chat_id=CITIZEN, since=since, timeout=15)
