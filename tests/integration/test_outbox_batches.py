"""Outcomes written in batches (``scheduler.outcomes``), on real PostgreSQL.

The writer: each outcome guarded by its claim, all of a batch in one statement.
The sender: every outcome of a batch recorded; a 429 in the middle of one still
pauses the bot; a database outage during a write sends again at most the
messages that were in flight (``outbox_in_flight``), never the rest of the batch.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import Callable

import pytest
from sqlalchemy import select, update

from bot.channels.base import RateLimited
from bot.config import Settings
from bot.health import Health
from db.models import Outbox, OutboxStatus
from db.session import Database
from handlers.types import Message
from scheduler.outbox import OutboxSender
from scheduler.outcomes import Outcome, OutcomeWriter
from tests.faulty_pg import FaultyPostgres
from tests.integration.test_outbox import (
    MORNING,
    FakeTime,
    ScriptedChannel,
    make_sender,
    person,
    queue,
    row,
)
from tests.support import Clock


async def claimed(db: Database, key: str, attempts: int) -> Outbox:
    """Row ``key`` as a sender holds it: ``attempts`` taken, leased."""
    async with db.sessions.begin() as s:
        await s.execute(
            update(Outbox)
            .where(Outbox.dedup_key == key)
            .values(attempts=attempts, leased_by="sender-a")
        )
    return await row(db, key)


async def test_the_writer_guards_each_outcome_by_its_claim(db: Database) -> None:
    for n in range(5):
        await queue(db, await person(db, str(n)), f"k{n}")
    rows = [await claimed(db, f"k{n}", 1) for n in range(5)]
    async with db.sessions.begin() as s:  # k1 was taken over: claimed again by another
        await s.execute(update(Outbox).where(Outbox.id == rows[1].id).values(attempts=2))
    writer = OutcomeWriter(db)
    later = MORNING + dt.timedelta(minutes=1)
    done = await asyncio.gather(
        writer.write(Outcome(rows[0].id, 1, status="sent", sent_at=MORNING)),
        writer.write(Outcome(rows[1].id, 1, status="sent", sent_at=MORNING)),
        writer.write(Outcome(rows[2].id, 1, forget=True)),
        writer.write(Outcome(rows[3].id, 1, keep_lease=True, payload={"delivered": 1})),
        writer.write(
            Outcome(rows[4].id, 1, not_before=later, new_attempts=0, last_error="429: wait")
        ),
    )
    assert done == [True, False, True, True, True]
    assert writer.batches == 1  # all five came in before the first write began

    sent = await row(db, "k0")
    assert (sent.status, sent.sent_at, sent.leased_by) == (OutboxStatus.SENT, MORNING, None)
    stale = await row(db, "k1")  # untouched: the other sender's claim
    assert (stale.status, stale.attempts, stale.leased_by) == (OutboxStatus.PENDING, 2, "sender-a")
    async with db.sessions() as s:
        assert await s.scalar(select(Outbox.id).where(Outbox.dedup_key == "k2")) is None
    progress = await row(db, "k3")
    assert progress.payload == {"delivered": 1} and progress.leased_by == "sender-a"
    assert progress.status == OutboxStatus.PENDING
    postponed = await row(db, "k4")
    assert (postponed.not_before, postponed.attempts) == (later, 0)
    assert (postponed.last_error, postponed.leased_by) == ("429: wait", None)
    assert postponed.status == OutboxStatus.PENDING


async def test_a_batch_of_forty_is_recorded_in_a_few_statements(db: Database) -> None:
    clock = Clock(MORNING)
    channel = ScriptedChannel()
    sender = make_sender(db, channel, clock, outbox_in_flight=16)
    for n in range(40):
        await queue(db, await person(db, str(n)), f"k{n}", f"hello {n}")

    stats = await sender.drain_once()
    assert (stats.claimed, stats.sent) == (40, 40)
    assert sorted(chat for chat, _ in channel.delivered) == sorted(str(n) for n in range(40))
    for n in range(40):
        r = await row(db, f"k{n}")
        assert (r.status, r.sent_at, r.attempts, r.leased_by) == (
            OutboxStatus.SENT,
            MORNING,
            1,
            None,
        )
    # At most 16 outcomes wait at a time (the in-flight slots): 3 statements at the
    # least; one a row would be 40.
    assert 3 <= sender._outcomes.batches <= 6


async def test_a_429_in_the_middle_of_a_batch_pauses_the_bot_and_loses_nothing(
    db: Database,
) -> None:
    clock = Clock(MORNING)
    channel = ScriptedChannel()
    time = FakeTime()
    sender = make_sender(db, channel, clock, time)  # waits over 5 s put a row back
    for n in range(6):
        await queue(db, await person(db, str(n)), f"k{n}")
    channel.fail("3", RateLimited(7, "Too Many Requests: retry after 7"))

    stats = await sender.drain_once()
    # 0, 1, 2 go; 3 gets the 429; 4 and 5 find the bot paused for 7 s and go back.
    assert (stats.sent, stats.postponed) == (3, 3)
    assert sorted(channel.delivered) == [(str(n), f"k{n}") for n in (0, 1, 2)]
    for n in (3, 4, 5):
        held = await row(db, f"k{n}")
        assert (held.status, held.attempts) == (OutboxStatus.PENDING, 0)  # not counted
        assert held.not_before == MORNING + dt.timedelta(seconds=7)
        assert held.leased_by is None
    assert "retry after 7" in ((await row(db, "k3")).last_error or "")
    assert sender.limiter.paused_for("test") == pytest.approx(7)

    clock.advance(seconds=7)
    time.now += 7
    assert (await sender.drain_once()).sent == 3
    assert sorted(channel.delivered) == [(str(n), f"k{n}") for n in range(6)]
    assert (await row(db, "k3")).status == OutboxStatus.SENT


class SlowChannel(ScriptedChannel):
    """A messenger that takes a few milliseconds to answer each request."""

    async def send(self, chat_id: str, messages: list[Message]) -> None:
        await asyncio.sleep(0.004)
        await super().send(chat_id, messages)


async def until(check: Callable[[], bool], seconds: float = 60.0) -> None:
    async with asyncio.timeout(seconds):
        while not check():  # noqa: ASYNC110 (polling what other tasks change)
            await asyncio.sleep(0.01)


@pytest.mark.parametrize("in_flight", [4])
async def test_an_outage_during_a_write_sends_again_only_what_was_in_flight(
    faulty: FaultyPostgres, fdb: Database, in_flight: int
) -> None:
    conf = Settings(
        bot_rate_per_second=300,
        outbox_in_flight=in_flight,
        outbox_poll_seconds=0.05,
        outbox_retry_max_seconds=0.5,
        outbox_standby_seconds=0.2,
    )
    channel = SlowChannel()
    health = Health()
    sender = OutboxSender(fdb, conf, {"test": channel}, clock=lambda: MORNING, health=health)
    people = 120
    for n in range(people):
        await queue(fdb, await person(fdb, str(n)), f"k{n}", f"m{n}")
    stop = asyncio.Event()
    task = asyncio.create_task(sender.run(stop))
    try:
        await until(lambda: len(channel.delivered) >= 30)
        await faulty.stop()  # in the middle of the batch (all 120 rows claimed at once)
        await until(lambda: "outbox" in health.problems())
        during = len(channel.delivered)
        await asyncio.sleep(0.5)
        assert len(channel.delivered) == during  # nothing more went out unrecorded
        await faulty.start()
        await until(lambda: len({chat for chat, _ in channel.delivered}) == people)
        await asyncio.sleep(0.3)  # a repeat would come now
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
    got = Counter(chat for chat, _ in channel.delivered)
    assert set(got) == {str(n) for n in range(people)}  # nothing lost
    repeated = sum(got.values()) - people
    assert repeated <= in_flight  # only the messages whose outcome was being written
    async with fdb.sessions() as s:
        statuses = Counter((await s.execute(select(Outbox.status))).scalars())
    assert statuses == {OutboxStatus.SENT: people}
