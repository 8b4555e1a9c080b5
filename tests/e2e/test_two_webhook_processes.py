"""Two webhook processes behind one address are one bot: an update delivered to both is
handled once, and one person's updates spread over them are each handled once, in turn."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from db.models import ProcessedUpdate
from db.session import Database
from tests.e2e.telegram_support import SECRET, TOKEN, bot_running, webhook_url
from tests.fakes.telegram_api import FakeTelegramAPI

HELP = "how to use it"


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI(token=TOKEN) as fake:
        yield fake
        fake.assert_no_violations()


async def test_one_update_posted_to_two_processes_is_answered_once(
    api: FakeTelegramAPI, db: Database
) -> None:
    async with bot_running(api, db, webhook=True) as one, bot_running(api, db, webhook=True) as two:
        update = api.user_message(801, "/help", language_code="en", push=False)
        statuses = await asyncio.gather(
            api.post_webhook(webhook_url(one), update, SECRET),
            api.post_webhook(webhook_url(two), update, SECRET),
        )
        assert statuses == [200, 200]
        later = [
            api.user_message(801, text, language_code="en", push=False)
            for text in ("/menu", "/help")
        ]
        assert await api.post_webhook(webhook_url(two), later[0], SECRET) == 200
        assert await api.post_webhook(webhook_url(one), later[1], SECRET) == 200
    answers = [c.plain_text or "" for c in api.sent_messages(801)]
    assert [HELP in a for a in answers].count(True) == 2  # the first /help once, the last once
    assert HELP in answers[0] and HELP in answers[-1]
    async with db.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(ProcessedUpdate)) == 3
