"""One outbox sender per channel across processes (an advisory lock), on real PostgreSQL.

Each ``OutboxSender`` here holds its lock on a connection of its own, exactly as in
separate processes; a process killed with -9 is its lock connection dying.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

import pytest

from bot.config import Settings
from db.models import OutboxStatus
from db.session import Database
from scheduler.jobs import SchedulerService
from scheduler.leader import AdvisoryLock, lock_key
from scheduler.outbox import OutboxSender
from tests.integration.test_outbox import (
    MORNING,
    Crash,
    FakeTime,
    ScriptedChannel,
    make_sender,
    person,
    queue,
    row,
)
from tests.support import Clock


async def release(*senders: OutboxSender) -> None:
    for sender in senders:
        for lock in sender._locks.values():
            await lock.release()


async def test_one_sender_leads_and_a_standby_takes_a_dead_ones_rows_back(db: Database) -> None:
    clock = Clock(MORNING)
    dying = ScriptedChannel()
    dying.fail("1", Crash())
    survivor_channel = ScriptedChannel()
    first = make_sender(db, dying, clock, outbox_lease_seconds=120)
    second = make_sender(db, survivor_channel, clock, outbox_lease_seconds=120)
    try:
        alice = await person(db, "1")
        await queue(db, alice, "k1")
        assert await first.lead() == {"test"}
        assert await second.lead() == set()  # a standby
        assert await first.lead() == {"test"}  # still held
        with pytest.raises(Crash):
            await first.drain_once(await first.lead())
        assert (await row(db, "k1")).leased_by == first.token
        assert await second.lead() == set()

        await first._locks["test"]._drop()  # kill -9: its connection, and the lock, are gone
        assert await second.lead() == {"test"}
        stats = await second.drain_once({"test"})  # no 120 s wait for the lease
        assert stats.sent == 1 and survivor_channel.texts("1") == ["k1"]
        sent = await row(db, "k1")
        assert sent.status == OutboxStatus.SENT and sent.leased_by is None and sent.attempts == 2
    finally:
        await release(first, second)


async def test_a_sender_taking_over_keeps_the_group_spacing(db: Database) -> None:
    clock = Clock(MORNING)
    channel = ScriptedChannel("telegram")
    first = make_sender(db, channel, clock)
    time = FakeTime()
    second = make_sender(db, ScriptedChannel("telegram"), clock, time=time)
    try:
        group = await person(db, "-1001", channel="telegram")
        await queue(db, group, "g1")
        assert await first.lead() == {"telegram"}
        await first.drain_once({"telegram"})
        assert channel.texts("-1001") == ["g1"]
        await release(first)
        clock.advance(seconds=1)
        assert await second.lead() == {"telegram"}
        # 20 a minute is one every 3 s; the last went 1 s ago
        assert second.limiter.chat_wait("telegram", "-1001") == pytest.approx(2.0)
        assert second.limiter.chat_wait("telegram", "42") == 0.0
    finally:
        await release(first, second)


async def test_advisory_lock_is_exclusive_and_released(db: Database) -> None:
    one, two = AdvisoryLock(db, "job:x"), AdvisoryLock(db, "job:x")
    try:
        assert await one.acquire() and not await two.acquire()
        await one.release()
        assert await two.acquire() and not await one.acquire()
    finally:
        await one.release()
        await two.release()
    assert lock_key("job:x") == lock_key("job:x") != lock_key("job:y")
    assert -(2**63) <= lock_key("outbox:telegram") < 2**63


async def test_a_job_fired_in_two_processes_runs_in_one(db: Database) -> None:
    runs = 0
    gate = asyncio.Event()

    async def slow_job(db: Database, settings: Settings, now: dt.datetime) -> None:
        nonlocal runs
        runs += 1
        await gate.wait()

    one = SchedulerService(db, Settings(), {}, send=False)
    two = SchedulerService(db, Settings(), {}, send=False)
    first = asyncio.create_task(one._wrap("slow", slow_job)())
    async with asyncio.timeout(5):
        while runs == 0:  # noqa: ASYNC110 (waiting for the other task to start)
            await asyncio.sleep(0.02)
    await asyncio.wait_for(two._wrap("slow", slow_job)(), 5)  # skipped: returns at once
    gate.set()
    await first
    assert runs == 1


async def test_a_job_cut_by_the_stop_ends_quietly_and_one_cut_otherwise_is_cancelled(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    started = asyncio.Event()

    async def long_job(db: Database, settings: Settings, now: dt.datetime) -> None:
        started.set()
        await asyncio.Event().wait()  # until cancelled

    caplog.set_level(logging.INFO, logger="scheduler.jobs")
    for stopping in (True, False):
        service = SchedulerService(db, Settings(), {}, send=False)
        started.clear()
        task = asyncio.create_task(service._wrap("long", long_job)())
        await asyncio.wait_for(started.wait(), 5)
        if stopping:
            service._stop.set()
        task.cancel()
        if stopping:  # asyncio.run cancelling what still runs at the end of a stop
            assert await asyncio.wait_for(task, 5) is None
            assert "job long stopped with the process" in caplog.text
        else:
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(task, 5)
        # Either way the job's lock was released: another run can take it at once.
        lock = AdvisoryLock(db, "job:long")
        try:
            assert await lock.acquire()
        finally:
            await lock.release()
