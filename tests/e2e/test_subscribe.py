"""Subscriptions to announcements, end to end: Telegram through the fake Bot API (deep
link, the menu with a typed name or a shared location, /stop, the stop button, a 403
from the outbox sender, a block seen as ``my_chat_member``) and Zalo (numbers, /stop)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.channels.telegram.channel import TelegramChannel
from bot.config import Settings
from bot.runtime import Runtime
from db.members import identity_for
from db.models import Identity, Subscription, Unit
from db.session import Database, UnitOfWork
from handlers.notify import enqueue
from handlers.types import Message
from scheduler.limits import Limiter, Rates
from scheduler.outbox import OutboxSender
from tests.e2e.telegram_support import TOKEN, TgUser, bot_running
from tests.e2e.test_tip_telegram import press_on, send
from tests.e2e.test_zalo import ZaloUser, zalo_bot
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.zalo_api import FakeZaloAPI
from tests.integration.tip_helpers import make_world

CITIZEN = 6101
OTHER = 6102
ZALO_CITIZEN = "a1b2c3d4e5f6a7b8c9d0"


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI(token=TOKEN) as fake:
        yield fake
        fake.assert_no_violations()


@pytest.fixture
async def bot(api: FakeTelegramAPI, db: Database) -> AsyncIterator[Runtime]:
    async with bot_running(api, db) as rt:
        yield rt


async def subscribed(db: Database, channel: str, external_id: str) -> list[str]:
    """The codes of the units the chat is subscribed to."""
    async with db.sessions() as s:
        stmt = (
            select(Unit.code)
            .join(Subscription, Subscription.unit_id == Unit.id)
            .join(Identity, Identity.id == Subscription.identity_id)
            .where(Identity.channel == channel, Identity.external_id == external_id)
            .order_by(Unit.code)
        )
        return list((await s.execute(stmt)).scalars().all())


async def test_subscribe_by_link_by_name_and_by_location_then_stop(
    api: FakeTelegramAPI, bot: Runtime, db: Database
) -> None:
    await make_world(db)
    citizen = TgUser(api, CITIZEN)
    await citizen.say("/start sub_nghi-huong")
    assert "you will receive the announcements of Phường Nghi Hương" in citizen.text
    assert await subscribed(db, "telegram", str(CITIZEN)) == ["nghi-huong"]
    await citizen.say("/start sub_nghi-huong")  # the same QR code again: nothing doubled
    assert "You already receive the announcements of Phường Nghi Hương" in citizen.text

    await citizen.say("/menu")
    await press_on(citizen, "m:sub")
    assert "You already receive the announcements of: Phường Nghi Hương." in citizen.text
    await citizen.say("Atlantis")
    assert 'No commune or ward is called "Atlantis"' in citizen.text
    await citizen.say("nghi thach")  # accent-free, lower case
    assert "Xã Nghi Thạch" in citizen.text

    await press_on(citizen, "m:sub")
    await send(citizen, api.user_location, 18.641, 105.702)  # in Bến Thủy
    assert "Phường Bến Thủy" in citizen.text
    expected = ["ben-thuy", "nghi-huong", "nghi-thach"]
    assert await subscribed(db, "telegram", str(CITIZEN)) == expected

    await citizen.say("/stop")
    assert "no longer receive announcements" in citizen.text
    assert await subscribed(db, "telegram", str(CITIZEN)) == []
    await citizen.say("/stop")
    assert "You are not subscribed" in citizen.text


async def test_an_unknown_link_asks_for_the_commune(
    api: FakeTelegramAPI, bot: Runtime, db: Database
) -> None:
    await make_world(db)
    citizen = TgUser(api, CITIZEN)
    await citizen.say("/start sub_no-such-place")
    assert "was not found" in citizen.text
    await citizen.say("Bến Thủy")
    assert await subscribed(db, "telegram", str(CITIZEN)) == ["ben-thuy"]


async def test_the_stop_button_and_a_403_end_subscriptions(
    api: FakeTelegramAPI, bot: Runtime, db: Database
) -> None:
    await make_world(db)
    citizen, other = TgUser(api, CITIZEN), TgUser(api, OTHER)
    await citizen.say("/start sub_ben-thuy")
    await other.say("/start sub_ben-thuy")

    # An announcement-like message carries the stop button; pressing it ends the subscription.
    from handlers.subscribe import stop_choice

    async with UnitOfWork(db) as uow:
        for user in (CITIZEN, OTHER):
            who = await identity_for(uow.session, "telegram", str(user))
            await enqueue(
                uow.session,
                who,
                lambda: [Message("Cảnh báo lừa đảo", choices=[stop_choice()])],
                dedup_key=f"ann:{user}",
            )
        await uow.commit()
    api.block_bot(OTHER, push=False)  # seen only when the sender gets a 403
    tg = api.make_bot()
    await tg.initialize()
    try:
        sender = OutboxSender(
            db,
            Settings(quiet_start="00:00", quiet_end="00:00"),  # type: ignore[arg-type]
            {"telegram": TelegramChannel(tg, tries=1)},
            limiter=Limiter(Rates(bot_per_second=100, chat_per_second=10)),
        )
        stats = await sender.drain_once()
    finally:
        await tg.shutdown()
    assert (stats.sent, stats.blocked) == (1, 1)
    assert await subscribed(db, "telegram", str(OTHER)) == []
    assert await subscribed(db, "telegram", str(CITIZEN)) == ["ben-thuy"]

    await press_on(citizen, "sub:stop")
    assert "no longer receive announcements" in citizen.text
    assert await subscribed(db, "telegram", str(CITIZEN)) == []


async def test_blocking_the_bot_ends_the_subscription(
    api: FakeTelegramAPI, bot: Runtime, db: Database
) -> None:
    await make_world(db)
    citizen = TgUser(api, CITIZEN)
    await citizen.say("/start sub_ben-thuy")
    api.block_bot(CITIZEN)  # Telegram tells the bot through my_chat_member
    for _ in range(50):
        if not await subscribed(db, "telegram", str(CITIZEN)):
            break
        await asyncio.sleep(0.1)
    assert await subscribed(db, "telegram", str(CITIZEN)) == []


async def test_subscribe_and_stop_on_zalo(db: Database, tmp_path: Path) -> None:
    await make_world(db)
    async with FakeZaloAPI(long_poll_cap=0.5) as zapi, zalo_bot(zapi, db, tmp_path / "data"):
        citizen = ZaloUser(zapi, ZALO_CITIZEN)
        await citizen.say("/start")
        await citizen.say(citizen.number_of("Nhận thông báo"))
        assert "Hãy gõ tên xã, phường" in citizen.text  # no location button on Zalo
        await citizen.say("ben thuy")
        assert "Phường Bến Thủy" in citizen.text
        assert await subscribed(db, "zalo", ZALO_CITIZEN) == ["ben-thuy"]
        await citizen.say("/stop")
        assert "không còn nhận thông báo" in citizen.text
        assert await subscribed(db, "zalo", ZALO_CITIZEN) == []
        zapi.assert_no_violations()
