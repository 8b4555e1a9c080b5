"""The outbox sender through the real ``TelegramChannel`` against the fake Bot API over HTTP:
exactly-once with two senders on two database connections, and the 429/403/400/5xx paths."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.channels.telegram.channel import TelegramChannel
from bot.config import Settings
from db.members import identity_for
from db.models import Identity, Outbox, OutboxStatus, ReminderSnooze, Role, TaskKind
from db.session import Database, UnitOfWork
from handlers.notify import enqueue
from handlers.render import bold, esc
from handlers.types import Choice, Message
from scheduler.limits import Limiter, Rates
from scheduler.outbox import OutboxSender
from scheduler.reminders import send_deadline_reminders
from tests.e2e.telegram_support import TgUser, bot_running
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.integration.plan_fixtures import add_task, assign, make_world
from tests.integration.test_outbox import FakeTime
from tests.support import TEST_KEY, Clock

MORNING = dt.datetime(2025, 5, 5, 2, 0, tzinfo=dt.UTC)  # 09:00 in Hanoi
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as fake:
        yield fake


def conf(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "outbox_max_attempts": 3,
        "outbox_backoff_seconds": 10.0,
        "outbox_batch_size": 7,  # several claims per sender, so they interleave
    }
    values.update(overrides)
    return Settings(**values)


class Senders:
    """Senders with their own Bot (HTTP client) and token buckets, on a shared fake API."""

    def __init__(self, api: FakeTelegramAPI) -> None:
        self.api = api
        self.bots: list[Any] = []

    async def make(
        self, db: Database, clock: Clock, settings: Settings, time: FakeTime | None = None
    ) -> OutboxSender:
        bot = self.api.make_bot()
        await bot.initialize()
        self.bots.append(bot)
        rates = Rates(bot_per_second=500, chat_per_second=50, group_per_minute=600)
        limiter = (
            Limiter(rates) if time is None else Limiter(rates, monotonic=time, sleep=time.sleep)
        )
        channel = TelegramChannel(bot, tries=1)
        return OutboxSender(db, settings, {"telegram": channel}, clock=clock, limiter=limiter)

    async def close(self) -> None:
        for bot in self.bots:
            await bot.shutdown()


@pytest.fixture
async def senders(api: FakeTelegramAPI) -> AsyncIterator[Senders]:
    made = Senders(api)
    yield made
    await made.close()


async def tg_person(db: Database, chat_id: int, language: str = "en") -> Identity:
    async with UnitOfWork(db) as uow:
        identity = await identity_for(
            uow.session, "telegram", str(chat_id), chat_id=str(chat_id), language=language
        )
        await uow.commit()
    return identity


async def queue(db: Database, identity: Identity, key: str, *messages: Message) -> None:
    async with UnitOfWork(db) as uow:
        await enqueue(
            uow.session,
            identity,
            lambda: list(messages) or [Message(esc(key))],
            dedup_key=key,
            not_before=MORNING,
        )
        await uow.commit()


async def row(db: Database, key: str) -> Outbox:
    async with db.sessions() as s:
        return (await s.execute(select(Outbox).where(Outbox.dedup_key == key))).scalar_one()


async def pending(db: Database) -> int:
    async with db.sessions() as s:
        stmt = select(func.count()).select_from(Outbox).where(Outbox.status == "pending")
        return int(await s.scalar(stmt) or 0)


async def test_two_senders_on_two_connections_send_each_message_once(
    api: FakeTelegramAPI, db: Database, pg_url: str, senders: Senders
) -> None:
    clock = Clock(MORNING)
    chats = list(range(5001, 5031))
    expected: Counter[int] = Counter()
    for chat in chats:
        person = await tg_person(db, chat)
        await queue(db, person, f"one:{chat}")
        expected[chat] += 1
        if chat % 3 == 0:  # a row of two messages, the second with buttons
            await queue(
                db,
                person,
                f"two:{chat}",
                Message(bold("Nhắc việc") + " " + esc("<Mốc> & hạn")),
                Message("OK?", choices=[Choice("rm:sn:1", "Tomorrow"), Choice("ck:n:1", "Now")]),
            )
            expected[chat] += 2
    group = await tg_person(db, -100777)
    await queue(db, group, "group")
    expected[-100777] += 1

    other_db = Database(pg_url, pool_size=2)
    try:
        first = await senders.make(db, clock, conf())
        second = await senders.make(other_db, clock, conf())

        async def drain(sender: OutboxSender) -> None:
            while (await sender.drain_once()).claimed:
                pass

        await asyncio.gather(drain(first), drain(second), drain(first), drain(second))
    finally:
        await other_db.dispose()

    assert await pending(db) == 0
    counts = Counter(int(c.chat_id) for c in api.calls_of("sendMessage"))  # type: ignore[arg-type]
    assert counts == expected
    assert api.sent_messages(5001)[0].text == "one:5001"
    assert api.sent_messages(5001)[-1].callback_data == ["rm:sn:1", "ck:n:1"]
    api.assert_no_violations()


async def test_403_marks_the_row_and_the_person_blocked(
    api: FakeTelegramAPI, db: Database, senders: Senders
) -> None:
    clock = Clock(MORNING)
    sender = await senders.make(db, clock, conf())
    gone, vanished, fine = [await tg_person(db, c) for c in (6001, 6002, 6003)]
    api.block_bot(6001, push=False)
    api.fail_next("sendMessage", 400, "Bad Request: chat not found", chat_id=6002)
    for person in (gone, vanished, fine):
        await queue(db, person, f"k{person.chat_id}")
        await queue(db, person, f"again{person.chat_id}")

    requests = api.requests_count
    stats = await sender.drain_once()
    assert (stats.blocked, stats.sent) == (4, 2)
    assert api.requests_count - requests == 4  # one try per blocked chat, then nothing
    for key in ("k6001", "again6001", "k6002", "again6002"):
        assert (await row(db, key)).status == OutboxStatus.BLOCKED
    assert "blocked" in ((await row(db, "k6001")).last_error or "")
    assert "chat not found" in ((await row(db, "k6002")).last_error or "").lower()
    async with db.sessions() as s:
        stmt = select(Identity.chat_id).where(Identity.blocked_at.is_not(None))
        blocked = set((await s.execute(stmt)).scalars())
    assert blocked == {"6001", "6002"}
    assert [c.text for c in api.sent_messages(6003)] == ["k6003", "again6003"]


async def test_429_pauses_the_bot_for_retry_after(
    api: FakeTelegramAPI, db: Database, senders: Senders
) -> None:
    clock = Clock(MORNING)
    time = FakeTime()
    sender = await senders.make(db, clock, conf(outbox_max_wait_seconds=1), time)
    person = await tg_person(db, 7001)
    await queue(db, person, "k1")
    api.fail_next("sendMessage", 429, retry_after=7)

    await sender.drain_once()
    r = await row(db, "k1")
    assert (r.status, r.attempts) == (OutboxStatus.PENDING, 0)
    assert r.not_before == MORNING + dt.timedelta(seconds=7)
    assert "retry" in (r.last_error or "").lower()
    assert sender.limiter.paused_for("telegram") == 7

    later = await tg_person(db, 7002)
    await queue(db, later, "k2")
    await sender.drain_once()  # the bot is paused: nothing goes to anyone
    assert api.sent_messages() == []

    clock.advance(seconds=7)
    time.now += 7
    await sender.drain_once()
    assert sorted(int(c.chat_id) for c in api.sent_messages()) == [7001, 7002]  # type: ignore[arg-type]


async def test_5xx_retries_with_backoff_then_fails_with_the_error(
    api: FakeTelegramAPI, db: Database, senders: Senders
) -> None:
    clock = Clock(MORNING)
    sender = await senders.make(db, clock, conf())
    person = await tg_person(db, 8001)
    await queue(db, person, "flaky")
    await queue(db, person, "doomed-later")
    api.fail_next("sendMessage", 502, chat_id=8001)

    await sender.drain_once()
    r = await row(db, "flaky")
    assert (r.status, r.attempts) == (OutboxStatus.PENDING, 1)
    assert r.not_before == MORNING + dt.timedelta(seconds=10)
    assert "Bad Gateway" in (r.last_error or "")
    assert api.sent_messages(8001) == []  # the chat's later row waited with it

    clock.advance(seconds=10)
    await sender.drain_once()
    assert [c.text for c in api.sent_messages(8001)] == ["flaky", "doomed-later"]
    assert (await row(db, "flaky")).status == OutboxStatus.SENT

    await queue(db, person, "doomed")
    api.fail_next("sendMessage", 500, chat_id=8001, times=3)
    for wait in (0, 10, 20):
        clock.advance(seconds=wait)
        await sender.drain_once()
    r = await row(db, "doomed")
    assert (r.status, r.attempts) == (OutboxStatus.FAILED, 3)
    assert "Internal Server Error" in (r.last_error or "")


async def test_reminder_reaches_telegram_and_its_snooze_button_works(
    api: FakeTelegramAPI, db: Database, senders: Senders
) -> None:
    world = await make_world(db)
    task = await add_task(db, world, TaskKind.MILESTONE, "Họp dân <khu> & phố", "Residents")
    deadline = dt.date(2025, 5, 12)
    aid = await assign(db, task, world.a, deadline)
    officer = await tg_person(db, 9001, language="vi")
    async with UnitOfWork(db) as uow:
        from db.members import ensure_member, grant_role

        identity = await uow.session.get(Identity, officer.id)
        assert identity is not None
        member = await ensure_member(uow.session, identity, "Trần Thị B")
        await grant_role(uow.session, member.id, world.a.id, Role.OFFICER, granted_by=None)
        await uow.commit()

    clock = Clock(MORNING)  # 05/05/2025, 7 days before
    assert await send_deadline_reminders(db, Settings(), clock()) == 1
    sender = await senders.make(db, clock, conf())
    assert (await sender.drain_once()).sent == 1
    [sent] = api.sent_messages(9001)
    assert "Họp dân <khu> & phố" in (sent.plain_text or "")
    assert "12/05/2025" in (sent.plain_text or "")
    assert sent.callback_data == [f"ck:n:{aid}", f"rm:sn:{aid}"]
    api.assert_no_violations()

    async with bot_running(api, db):
        user = TgUser(api, 9001, language_code="vi")
        await user.press(f"rm:sn:{aid}")
    async with db.sessions() as s:
        snoozed = (await s.execute(select(ReminderSnooze))).scalars().all()
    assert [(z.identity_id, z.assignment_id) for z in snoozed] == [(officer.id, aid)]
    api.assert_no_violations()


async def test_antt_scheduler_sends_the_outbox_and_stops_on_sigterm(
    api: FakeTelegramAPI, db: Database, pg_url: str
) -> None:
    import os
    import signal
    import sys

    person = await tg_person(db, 9501)
    async with UnitOfWork(db) as uow:  # urgent: goes whatever the hour of the test run
        await enqueue(uow.session, person, lambda: [Message("now")], dedup_key="u", urgent=True)
        await uow.commit()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTT_")}
    env.update(
        ANTT_DATABASE_URL=pg_url,
        ANTT_TELEGRAM_TOKEN=api.token,
        ANTT_TELEGRAM_API_URL=api.root_url,
        ANTT_SECRET_KEY=TEST_KEY,  # `antt scheduler` refuses to start without a proper key
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "scheduler",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        sent = await api.wait_for("sendMessage", timeout=30, chat_id=9501)
        assert sent.text == "now"
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), 20)
    log = err.decode() + out.decode()
    assert proc.returncode == 0, log[-3000:]
    assert "deadline-reminders" in log and "stopping" in log
    assert api.token.split(":", 1)[1] not in log
    assert (await row(db, "u")).status == OutboxStatus.SENT
