"""A check-in end to end over Telegram: the real PTB client against ``FakeTelegramAPI``,
with an evidence photo that is downloaded into the data dir (``ANTT_STORE_MEDIA=1``)."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.runtime import Runtime
from db.models import Attachment, Checkin, Identity, Member, Role, RoleGrant, TaskKind
from db.session import Database
from tests.e2e.telegram_support import TOKEN, TgUser, bot_running, replies
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.integration.plan_fixtures import add_task, assign, make_world

OFFICER = 6001
PHOTO = b"\x89PNG\r\n\x1a\n" + b"evidence" * 200


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI(token=TOKEN) as fake:
        yield fake
        fake.assert_no_violations()


@pytest.fixture
async def bot(api: FakeTelegramAPI, db: Database, tmp_path: Path) -> AsyncIterator[Runtime]:
    async with bot_running(api, db, store_media=True, data_dir=tmp_path) as rt:
        yield rt


async def enrol_on_telegram(db: Database, unit_id: int, user_id: int) -> None:
    async with db.sessions() as s:
        member = Member(full_name="Trần Thị Lan")
        s.add(member)
        await s.flush()
        s.add(
            Identity(
                member_id=member.id,
                channel="telegram",
                external_id=str(user_id),
                chat_id=str(user_id),
                language="en",
            )
        )
        s.add(RoleGrant(member_id=member.id, unit_id=unit_id, role=Role.OFFICER.value))
        await s.commit()


async def test_checkin_with_evidence_photo_over_telegram(
    api: FakeTelegramAPI, bot: Runtime, db: Database, tmp_path: Path
) -> None:
    world = await make_world(db)
    task = await add_task(db, world, TaskKind.MILESTONE, "Ngày hội", "Hold the festival")
    aid = await assign(db, task, world.a, dt.date(2030, 8, 19))
    await enrol_on_telegram(db, world.a.id, OFFICER)
    officer = TgUser(api, OFFICER, first_name="Lan")

    await officer.press("m:tasks")
    assert f"ck:a:{aid}" in officer.buttons and "Hold the festival" in officer.text
    await officer.press(f"ck:a:{aid}")
    await officer.press(f"ck:n:{aid}")
    await officer.press("ci:st:done")
    await officer.say("Held <b>on time</b> & well attended")
    api.add_file("ph-evidence", PHOTO)
    since = api.mark()
    api.user_photo(OFFICER, "ph-evidence", **officer.profile)
    officer.last = await replies(api, OFFICER, since)
    assert "1 file attached" in officer.text
    assert "Held <b>on time</b> & well attended" in officer.text  # escaped, shown as typed
    await officer.press("ci:save")
    assert "Check-in saved." in officer.text

    async with db.sessions() as s:
        [row] = (await s.execute(select(Checkin))).scalars().all()
        assert (row.assignment_id, row.status) == (aid, "done")
    assert bot.telegram is not None and bot.telegram.bridge.media is not None
    await bot.telegram.bridge.media.idle()
    async with db.sessions() as s:
        [att] = (await s.execute(select(Attachment))).scalars().all()
    digest = hashlib.sha256(PHOTO).hexdigest()
    assert (att.owner_id, att.file_id, att.sha256, att.size) == (
        row.id,
        "ph-evidence",
        digest,
        len(PHOTO),
    )
    assert att.stored_path is not None
    stored = Path(att.stored_path)
    assert stored.is_relative_to(tmp_path)
    assert await asyncio.to_thread(stored.read_bytes) == PHOTO


async def test_pages_and_cards_are_edited_in_place(
    api: FakeTelegramAPI, bot: Runtime, db: Database
) -> None:
    """A button that shows another view of the same thing edits the message it is on;
    a check-in saved is a new message."""
    world = await make_world(db)
    task = await add_task(db, world, TaskKind.MILESTONE, "Ngày hội", "Hold the festival")
    aid = await assign(db, task, world.a, dt.date(2030, 8, 19))
    await enrol_on_telegram(db, world.a.id, OFFICER)
    officer = TgUser(api, OFFICER, first_name="Lan")

    await officer.press("m:tasks")
    [listing] = officer.last
    assert listing.method == "sendMessage" and listing.message_id is not None
    await officer.press(f"ck:a:{aid}")  # the card, in place of the list
    [card] = officer.last
    assert card.method == "editMessageText" and card.params["message_id"] == listing.message_id
    assert "Hold the festival" in (card.plain_text or "") and f"ck:n:{aid}" in card.callback_data
    await officer.press("ck:l:0")  # back to the list, still the same message
    [back] = officer.last
    assert back.method == "editMessageText" and back.params["message_id"] == listing.message_id
    await officer.press("nav:menu")
    [menu] = officer.last
    assert menu.method == "editMessageText" and "m:tasks" in menu.callback_data

    await officer.press("m:tasks")  # a menu entry starts something: a new message
    await officer.press(f"ck:a:{aid}")
    await officer.press(f"ck:n:{aid}")
    assert officer.last[0].method == "sendMessage"
    await officer.press("ci:st:done")
    await officer.press("ci:skip")
    await officer.press("ci:skip")
    await officer.press("ci:save")
    assert all(c.method == "sendMessage" for c in officer.last), "a saved check-in is news"
