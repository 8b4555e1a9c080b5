"""Background loops against a real PostgreSQL that is stopped and started again.

The sender and a scheduled job go on by themselves once the database is back;
``/healthz`` names the loop that is down while it is, and answers 200 again after.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable

import aiohttp
from sqlalchemy import text

from bot.config import Settings
from bot.health import Health
from bot.web import WebServer, create_web_app
from db.models import OutboxStatus
from db.session import Database
from scheduler.jobs import SchedulerService
from scheduler.outbox import OutboxSender
from tests.faulty_pg import FaultyPostgres
from tests.integration.test_outbox import ScriptedChannel, person, queue, row

NOW = dt.datetime(2025, 5, 5, 2, 0, tzinfo=dt.UTC)  # 09:00 local, outside quiet hours


async def until(check: Callable[[], bool], seconds: float = 20.0) -> None:
    """Wait until ``check()`` is true; fail after ``seconds``."""
    async with asyncio.timeout(seconds):
        while not check():  # noqa: ASYNC110 (polling what other tasks change)
            await asyncio.sleep(0.05)


async def health_of(url: str) -> tuple[int, dict[str, object]]:
    async with aiohttp.ClientSession() as http, http.get(url + "/healthz") as resp:
        return resp.status, await resp.json()


async def test_sender_survives_a_stopped_database_and_healthz_says_so(
    faulty: FaultyPostgres, fdb: Database
) -> None:
    conf = Settings(outbox_poll_seconds=0.05, outbox_retry_max_seconds=0.5)
    channel = ScriptedChannel()
    health = Health()
    sender = OutboxSender(fdb, conf, {"test": channel}, clock=lambda: NOW, health=health)
    server = WebServer(create_web_app(fdb, health), "127.0.0.1", 0)
    await server.start()
    stop = asyncio.Event()
    task = asyncio.create_task(sender.run(stop))
    try:
        alice = await person(fdb, "alice")
        await queue(fdb, alice, "before")
        await until(lambda: channel.texts("alice") == ["before"])
        # Its outcome is written a moment later, with the outcomes sent alongside it (a
        # stop before that would send it again once the database is back, by design).
        async with asyncio.timeout(10):
            while (await row(fdb, "before")).status != OutboxStatus.SENT:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        assert (await health_of(server.url))[0] == 200

        await faulty.stop()
        await until(lambda: "outbox" in health.problems())
        status, body = await health_of(server.url)
        assert status == 503
        assert body["db"] is False
        down = body["down"]
        assert isinstance(down, dict) and "outbox" in down
        assert not task.done()

        await faulty.start()
        await queue(fdb, alice, "after")
        await until(lambda: channel.texts("alice") == ["before", "after"])
        await until(lambda: not health.problems())
        assert await health_of(server.url) == (200, {"ok": True, "db": True, "down": {}})
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)  # ends cleanly, no exception
        await server.stop()


async def test_a_job_that_fails_in_an_outage_runs_when_the_database_is_back(
    faulty: FaultyPostgres, fdb: Database
) -> None:
    health = Health()
    service = SchedulerService(fdb, Settings(), {}, clock=lambda: NOW, send=False, health=health)
    runs: list[dt.datetime] = []

    async def count_people(db: Database, settings: Settings, now: dt.datetime) -> int:
        async with db.engine.connect() as conn:
            found = (await conn.execute(text("SELECT count(*) FROM identity"))).scalar_one()
        runs.append(now)
        return int(found)

    await faulty.stop()
    job = asyncio.create_task(service._wrap("count", count_people)())
    try:
        await until(lambda: "job count" in health.problems())
        assert not job.done()
        await faulty.start()
        await asyncio.wait_for(job, 20)
        assert runs == [NOW]
        assert health.problems() == {}
    finally:
        service._stop.set()
        await asyncio.wait_for(job, 10)
