"""``Engine.holding`` and ``on_held`` against a real PostgreSQL that is stopped and started:
what a polling channel relies on to put its updates on disk only during an outage."""

from __future__ import annotations

import asyncio

from bot.config import Settings
from db.session import Database
from handlers.engine import Engine
from handlers.types import Incoming
from tests.faulty_pg import FaultyPostgres


def start_command(update_id: str) -> Incoming:
    return Incoming(
        channel="test",
        user_id="31",
        chat_id="31",
        update_id=update_id,
        display_name="Lan",
        language_code="en",
        text="/start",
        command="start",
        args="",
    )


async def test_holding_from_the_first_failed_try_until_the_update_is_handled(
    faulty: FaultyPostgres, fdb: Database
) -> None:
    engine = Engine(fdb, Settings(update_retry_max_seconds=0.2, busy_notice_seconds=600))
    assert await engine.handle(start_command("1")) and not engine.holding
    seen: list[bool] = []
    await faulty.stop()
    task = asyncio.create_task(
        engine.handle(start_command("2"), on_held=lambda: seen.append(engine.holding))
    )
    async with asyncio.timeout(10):
        while not seen:  # noqa: ASYNC110 (the callback's list: no event)
            await asyncio.sleep(0.02)
    await asyncio.sleep(0.8)  # several more tries, all failing
    assert seen == [True] and engine.holding and not task.done()  # told once, holding
    await faulty.start()
    reply = await asyncio.wait_for(task, 20)
    assert reply and not engine.holding
    assert seen == [True]
