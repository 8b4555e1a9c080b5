"""An announcement with a photo over Telegram, end to end against the fake Bot API: the admin
composes it in chat, officers and a subscribed citizen receive it (the citizen with the stop
button), the admin's status message is edited in place, and the member report arrives."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import update

from bot.config import Settings
from bot.runtime import Runtime
from db.members import ensure_member, grant_role, identity_for
from db.models import Identity, Role
from db.session import Database
from scheduler.broadcast import ProgressReporter, fan_out_due
from scheduler.limits import Limiter, Rates
from scheduler.outbox import OutboxSender
from tests.e2e.telegram_support import TOKEN, TgUser, bot_running
from tests.e2e.test_tip_telegram import press_on, send
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.integration.tip_helpers import make_world

ADMIN, CITIZEN, OFFICER_NH, OFFICER_BT = 7001, 7002, 7003, 7004
NO_QUIET = {"quiet_start": "00:00", "quiet_end": "00:00"}


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI(token=TOKEN) as fake:
        yield fake
        fake.assert_no_violations()


@pytest.fixture
async def bot(api: FakeTelegramAPI, db: Database) -> AsyncIterator[Runtime]:
    async with bot_running(api, db, **NO_QUIET) as rt:
        yield rt


async def setup_people(db: Database) -> None:
    world = await make_world(db)
    async with db.sessions() as s:
        # The two officers of the demo world move to Telegram (their only identity).
        for user_id, chat in (("o-nh", OFFICER_NH), ("o-bt", OFFICER_BT)):
            await s.execute(
                update(Identity)
                .where(Identity.external_id == user_id)
                .values(channel="telegram", external_id=str(chat), chat_id=str(chat))
            )
        admin = await identity_for(s, "telegram", str(ADMIN), language="en")
        member = await ensure_member(s, admin, "Phạm Quốc Bảo")
        await grant_role(s, member.id, world.units["nghe-an"], Role.ADMIN, granted_by=None)
        await s.commit()


async def test_an_announcement_with_a_photo_to_officers_and_subscribers(
    api: FakeTelegramAPI, bot: Runtime, db: Database
) -> None:
    await setup_people(db)
    citizen = TgUser(api, CITIZEN)
    await citizen.say("/start sub_nghi-huong")

    admin = TgUser(api, ADMIN, first_name="Bảo")
    await admin.say("/broadcast")
    assert "Announcement to Tỉnh Nghệ An" in admin.text
    await send(admin, api.user_photo, "ph-ann", caption="Beware of fake <police> calls & SMS.")
    await press_on(admin, "bc:skip")
    await press_on(admin, "bc:a:officer")
    await press_on(admin, "bc:a:citizens")
    await press_on(admin, "bc:next")
    assert "Recipients: 3" in admin.text and "By channel: Telegram 3" in admin.text
    preview = next(c for c in admin.last if c.method == "sendPhoto")
    assert preview.params["photo"] == "ph-ann"
    assert "Beware of fake &lt;police&gt; calls &amp; SMS." in preview.params["caption"]
    await press_on(admin, "bc:now")
    await press_on(admin, "bc:ok")
    assert "is going out" in admin.text

    settings = Settings(**NO_QUIET)  # type: ignore[arg-type]
    channels = bot.channels()
    sender = OutboxSender(
        db, settings, channels, limiter=Limiter(Rates(bot_per_second=200, chat_per_second=20))
    )
    reporter = ProgressReporter(db, settings, channels)
    from db.models import utcnow

    assert await fan_out_due(db, settings, utcnow()) == 1
    assert await reporter.tick() == 1  # the status message, before anything went out
    status = api.sent_messages(ADMIN)[-1]
    assert status.method == "sendMessage" and "Sent 0, pending 3" in (status.plain_text or "")
    assert any(d.startswith("bcx:x:") for d in status.callback_data)

    stats = await sender.drain_once()
    assert stats.sent == 3
    for chat in (OFFICER_NH, OFFICER_BT):
        [got] = api.sent_messages(chat)
        assert got.method == "sendPhoto" and got.params["photo"] == "ph-ann"
        assert got.params["caption"].startswith("📢 <b>Announcement from Tỉnh Nghệ An</b>")
        assert got.callback_data == []  # members cannot unsubscribe from their duty
    got = api.sent_messages(CITIZEN)[-1]
    assert got.method == "sendPhoto" and got.callback_data == ["sub:stop"]

    await reporter.tick()
    edit = api.sent_messages(ADMIN)[-1]
    assert edit.method == "editMessageText"
    assert edit.params["message_id"] == status.result["message_id"]
    assert "Delivered 3, blocked 0, failed 0, cancelled 0." in (edit.plain_text or "")
    await sender.drain_once()  # the member report, through the outbox
    report = api.sent_messages(ADMIN)[-1]
    assert report.method == "sendDocument"
    assert [f.filename for f in report.files.values()] == ["thong-bao-1.xlsx"]
    import io

    from openpyxl import load_workbook

    [upload] = report.files.values()
    book = load_workbook(io.BytesIO(upload.data))
    summary = [tuple(r) for r in book.worksheets[0].iter_rows(values_only=True)]
    assert sorted(summary[1:]) == [
        ("Phường Bến Thủy", 1, 0, 0, 0, 0),
        ("Phường Nghi Hương", 1, 0, 0, 0, 0),
    ]
    people = [r for ws in book.worksheets[1:] for r in ws.iter_rows(min_row=2, values_only=True)]
    assert sorted(p[0] for p in people) == ["Trần Thị Hoa", "Đặng Văn Bình"]
    assert {p[3] for p in people} == {"received"}
    assert "Nguyễn" not in str(people)  # citizens are never listed


async def test_paid_broadcast_only_for_announcements_and_only_when_configured(
    api: FakeTelegramAPI,
) -> None:
    from bot.channels.telegram.channel import TelegramChannel
    from handlers.types import Message

    tg = api.make_bot()
    await tg.initialize()
    try:
        for paid, bulk, expected in ((True, True, True), (True, False, None), (False, True, None)):
            since = api.mark()
            channel = TelegramChannel(tg, paid_broadcast=paid)
            await channel.send(str(CITIZEN), [Message("Thông báo", bulk=bulk)])
            [call] = [c for c in api.sent_messages(CITIZEN) if c.seq >= since]
            assert call.params.get("allow_paid_broadcast") == expected, (paid, bulk)
    finally:
        await tg.shutdown()
