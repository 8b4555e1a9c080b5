"""A tip end to end over Telegram: our bot on real PostgreSQL against ``FakeTelegramAPI``,
with the poster deep link, photo/video/voice/document updates, a shared location from
the reply keyboard, the contact button, the tracking code and /status."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import select

from bot.runtime import Runtime
from db.models import Attachment, Tip, TipReporter
from db.sealed import unseal
from db.session import Database
from tests.e2e.telegram_support import TOKEN, TgUser, bot_running, on_telegram, replies
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.integration.tip_helpers import make_world, outbox_of
from tests.support import photo_with_exif

SECRET_KEY = "e2e-tip-secret"
CITIZEN = 5001
OFFICER = 5002


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI(token=TOKEN) as fake:
        yield fake
        fake.assert_no_violations()


@pytest.fixture
async def bot(api: FakeTelegramAPI, db: Database) -> AsyncIterator[Runtime]:
    async with bot_running(api, db, secret_key=SECRET_KEY) as rt:
        yield rt


async def send(user: TgUser, update: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Push one non-text update from ``user`` and wait for the bot's answer."""
    since = user.api.mark()
    update(user.user_id, *args, **user.profile, **kwargs)
    user.last = await replies(user.api, user.user_id, since)


async def press_on(user: TgUser, data: str) -> None:
    """Press the inline button ``data`` on the message that carries it."""
    holder = next(
        c for c in reversed(user.api.sent_messages(user.user_id)) if data in c.callback_data
    )
    since = user.api.mark()
    user.api.callback(user.user_id, data, holder.message_id, **user.profile)
    user.last = await replies(user.api, user.user_id, since)


def keyboard_requests(user: TgUser) -> set[str]:
    return {
        key
        for call in user.last
        for button in call.buttons
        for key in ("request_location", "request_contact")
        if button.get(key)
    }


async def test_tip_with_media_location_and_contact_over_telegram(
    api: FakeTelegramAPI, bot: Runtime, db: Database
) -> None:
    world = await make_world(db)
    citizen = TgUser(api, CITIZEN, first_name="Mai", last_name="Vũ")
    await citizen.say("/start tip_nghi-huong")
    assert "113" in citizen.text and "tip:cat:drugs" in citizen.buttons
    await citizen.press("tip:cat:drugs")
    await citizen.say("Pills sold <b>behind</b> the market & the school.")
    await send(citizen, api.user_photo, "ph-1", caption="The kiosk")
    await send(citizen, api.user_video, "vid-1")
    await send(citizen, api.user_voice, "voi-1")
    original = photo_with_exif()
    await send(citizen, api.user_document, "doc-1", "Nguyen_Van_A.jpg", content=original)
    assert "4 files attached" in citizen.text
    await press_on(citizen, "tip:done")
    assert "Phường Nghi Hương" in citizen.text  # the poster's commune, already chosen
    await press_on(citizen, "tip:place")  # ... but the person is elsewhere
    assert "request_location" in keyboard_requests(citizen)
    await send(citizen, api.user_location, 18.641, 105.702)
    assert "Phường Bến Thủy" in citizen.text
    await press_on(citizen, "tip:skip")
    assert "request_contact" in keyboard_requests(citizen)
    await send(citizen, api.user_contact, "+84912345678")
    assert "+84912345678" in citizen.text and "tip:send" in citizen.buttons
    await press_on(citizen, "tip:send")
    found = re.search(r"\d{4}-\d{4}-\d{4}-\d{4}", citizen.text)
    assert found, citizen.text

    async with db.sessions() as s:
        tip = await s.scalar(select(Tip))
        kinds = (await s.execute(select(Attachment.kind).order_by(Attachment.id))).scalars().all()
        sealed = await s.scalar(select(TipReporter.sealed))
    assert tip is not None and tip.unit_id == world.units["ben-thuy"]
    assert (tip.lat, tip.lon) == (18.641, 105.702) and not tip.anonymous
    assert tip.description.startswith("Pills sold <b>behind</b> the market & the school.")
    assert list(kinds) == ["photo", "video", "voice", "document"]
    assert sealed is not None
    link = unseal(bot.settings, tip.id, sealed)
    assert link is not None and link.phone == "+84912345678" and link.chat_id == str(CITIZEN)
    assert len(await outbox_of(db, "o-bt")) == 1

    await citizen.say(f"/status {found.group(0)}")
    assert "waiting to be looked at" in citizen.text

    # The officer of Bến Thủy, on Telegram, sees the files: sent anew by their file ids
    # (never forwarded, which would show the reporter's name), the document cleaned and
    # uploaded under a neutral name, then the text.
    await on_telegram(db, world.members["o-bt"], OFFICER, name="Bình")
    officer = TgUser(api, OFFICER, first_name="Bình")
    await officer.say("/tips")
    await press_on(officer, f"tr:open:{tip.id}")
    assert "Files: 4" in officer.text
    since = api.mark()
    await press_on(officer, f"tr:files:{tip.id}")
    calls = [c for c in api.sent_messages(OFFICER) if c.seq >= since]
    sent = [(c.method, c.params.get(c.method[4:].lower())) for c in calls]
    assert sent[:3] == [("sendPhoto", "ph-1"), ("sendVideo", "vid-1"), ("sendVoice", "voi-1")]
    assert calls[3].method == "sendDocument" and "doc-1" not in str(calls[3].params)
    uploaded = calls[3].files["document"]
    assert uploaded.filename == "1-document-4-4.jpg"  # "#1 · document 4/4", not "Nguyen_Van_A.jpg"
    assert b"PhoneMaker" not in uploaded.data and b"Nguyen Van A" not in uploaded.data
    assert uploaded.data != original and uploaded.data.startswith(b"\xff\xd8")
    assert calls[4].method == "sendMessage" and f"Files of tip #{tip.id}: 4" in officer.text
    assert not any(c.method in ("forwardMessage", "copyMessage") for c in calls)


async def test_someone_elses_contact_is_not_taken_as_the_reporters_phone(
    api: FakeTelegramAPI, bot: Runtime, db: Database
) -> None:
    await make_world(db)
    citizen = TgUser(api, CITIZEN + 1)
    await citizen.say("/start tip_nghi-huong")
    await citizen.press("tip:cat:other")
    await citizen.say("Text.")
    await press_on(citizen, "tip:done")
    await press_on(citizen, "tip:skip")
    await send(citizen, api.user_contact, "+84900000000", contact_user_id=999)
    assert "Stay anonymous" in citizen.text and "tip:send" not in citizen.buttons
