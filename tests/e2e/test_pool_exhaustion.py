"""A small database pool under a burst of updates, with the scheduler in the same process.

`antt run` shares one pool between the updates, the scheduled jobs and the outbox
sender. A task that holds a pooled connection while it waits for a second one can
deadlock the pool: with as many such tasks as connections, each waits for another.
Jobs used to do exactly that (their advisory lock on one connection, their work on
another), so eight jobs firing at start-up left nothing for the updates until the
pool's 30 s timeout. Here the pool has two connections and no overflow.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event

from db.session import Database
from scheduler.jobs import SchedulerService
from tests.e2e.telegram_support import TOKEN, bot_running
from tests.fakes.telegram_api import ApiCall, FakeTelegramAPI

PEOPLE = 20
ANSWERED_WITHIN = 15.0  # seconds; a few hundred ms without contention, the pool waits 30 s


@pytest.fixture
async def small(db: Database, pg_url: str) -> AsyncIterator[Database]:
    """The emptied test database behind a pool of two connections, no overflow."""
    small = Database(pg_url, pool_size=1)  # two connections, no overflow
    yield small
    await small.dispose()


class HeldPerTask:
    """Pool events: how many pooled connections each asyncio task holds, and the most ever."""

    def __init__(self, database: Database) -> None:
        self.owner: dict[int, asyncio.Task[Any] | None] = {}
        self.held: Counter[asyncio.Task[Any] | None] = Counter()
        self.most = 0
        self.checkouts = 0
        pool = database.engine.sync_engine.pool
        event.listen(pool, "checkout", self.checkout)
        event.listen(pool, "checkin", self.checkin)

    @staticmethod
    def _task() -> asyncio.Task[Any] | None:
        try:
            return asyncio.current_task()
        except RuntimeError:  # outside the loop (a checkin at garbage collection)
            return None

    def checkout(self, dbapi_conn: Any, record: Any, proxy: Any) -> None:
        task = self._task()
        self.owner[id(record)] = task
        self.held[task] += 1
        self.checkouts += 1
        if task is not None:
            self.most = max(self.most, self.held[task])

    def checkin(self, dbapi_conn: Any, record: Any) -> None:
        if id(record) in self.owner:
            self.held[self.owner.pop(id(record))] -= 1


def is_menu(call: ApiCall) -> bool:
    return call.method == "sendMessage" and "inline_keyboard" in (call.reply_markup or {})


async def test_a_burst_of_updates_is_answered_while_the_jobs_run_on_a_small_pool(
    small: Database,
) -> None:
    held = HeldPerTask(small)
    async with FakeTelegramAPI(token=TOKEN) as api, bot_running(api, small) as rt:
        # As `antt run` does: the time triggers and the outbox sender in the same process.
        async with SchedulerService(rt.db, rt.settings, rt.channels(), health=rt.health):
            await asyncio.sleep(1.5)  # the start-up jobs fire one second after the start
            since = api.mark()
            for person in range(PEOPLE):
                api.user_message(7000 + person, "/start", first_name="Lan", language_code="vi")
            answered = await api.wait_for(is_menu, ANSWERED_WITHIN, count=PEOPLE, since=since)
            assert {str(c.chat_id) for c in answered} == {str(7000 + p) for p in range(PEOPLE)}
            await asyncio.sleep(2.5)  # the interval jobs fire again meanwhile
        api.assert_no_violations()
    assert held.checkouts >= PEOPLE
    # No task (an update, a job, the outbox sender) ever held two pooled connections.
    assert held.most == 1
