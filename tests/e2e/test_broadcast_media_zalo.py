"""An announcement composed on Telegram with a photo or a leaflet, to subscribers on Telegram
and on Zalo, with the real clients against both fake APIs in one bot: Zalo gets the photo by a
signed link to our kept copy (Zalo fetches it: the exact bytes uploaded) and the leaflet as a
named link in the text; the Telegram subscriber still gets the uploaded file."""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.runtime import Runtime, running
from db.members import identity_for
from db.models import Broadcast, Subscription, Unit, utcnow
from db.session import Database
from scheduler.broadcast import fan_out_due, served_channels
from scheduler.limits import Limiter, Rates
from scheduler.outbox import OutboxSender
from tests.e2e.telegram_support import TgUser, settings_for
from tests.e2e.test_broadcast_telegram import ADMIN, CITIZEN, NO_QUIET, setup_people
from tests.e2e.test_tip_telegram import press_on, send
from tests.fakes.telegram_api import DEFAULT_TOKEN as TG_TOKEN
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.zalo_api import DEFAULT_TOKEN as ZALO_TOKEN
from tests.fakes.zalo_api import FakeZaloAPI

ZALO_CITIZEN = "f00dfeedc0ffee123456"
# Bytes no cleaning would leave as they are: an EXIF block after the JPEG marker.
JPEG = b"\xff\xd8\xff\xe1\x00\x10Exif\x00\x00 announcement photo"
PDF = b"%PDF-1.4\n% leaflet on online fraud\n%%EOF\n"


@pytest.fixture
async def apis() -> AsyncIterator[tuple[FakeTelegramAPI, FakeZaloAPI]]:
    async with FakeTelegramAPI(token=TG_TOKEN) as tg, FakeZaloAPI(long_poll_cap=0.5) as zalo:
        yield tg, zalo
        tg.assert_no_violations()
        zalo.assert_no_violations()


@contextlib.asynccontextmanager
async def both(
    tg: FakeTelegramAPI, zalo: FakeZaloAPI, db: Database, data_dir: Path
) -> AsyncIterator[Runtime]:
    """One bot on Telegram and Zalo, serving kept files under its own address."""
    settings = settings_for(
        tg,
        zalo_token=ZALO_TOKEN,
        zalo_api_url=zalo.root_url,
        secret_key="e2e-broadcast-media-secret",
        public_url="http://127.0.0.1:0",
        data_dir=data_dir,
        **NO_QUIET,
    )
    async with running(settings, db=db, telegram=True, zalo=True) as rt:
        settings.public_url = rt.web.url  # the fake Zalo fetches photos from our server
        yield rt


async def zalo_subscriber(db: Database, zalo: FakeZaloAPI) -> None:
    zalo.user_text(ZALO_CITIZEN, "hi", push=False)  # the chat exists on Zalo's side
    async with db.sessions() as s:
        identity = await identity_for(s, "zalo", ZALO_CITIZEN, language="vi")
        unit_id = (await s.execute(Unit.__table__.select().where(Unit.code == "nghi-huong"))).one()
        s.add(Subscription(identity_id=identity.id, unit_id=unit_id.id, created_at=utcnow()))
        await s.commit()


async def compose(admin: TgUser, attach: object) -> None:
    """The admin's flow up to the confirmation, to the subscribed citizens only."""
    await admin.say("/broadcast")
    await attach  # type: ignore[misc]
    await press_on(admin, "bc:skip")
    await press_on(admin, "bc:a:citizens")
    await press_on(admin, "bc:next")
    assert "Recipients: 2" in admin.text and "By channel: Telegram 1, Zalo 1" in admin.text
    await press_on(admin, "bc:now")
    await press_on(admin, "bc:ok")
    assert "is going out" in admin.text


async def go_out(rt: Runtime, db: Database) -> None:
    served = served_channels(rt.settings, rt.channels())
    assert served == {"telegram", "zalo"}
    assert await fan_out_due(db, rt.settings, utcnow(), channels=rt.channels(), served=served) == 1
    sender = OutboxSender(
        db, rt.settings, rt.channels(), limiter=Limiter(Rates(bot_per_second=200))
    )
    assert (await sender.drain_once()).sent == 2


async def fetch(url: str) -> tuple[int, bytes, aiohttp.typedefs.LooseHeaders]:
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        return resp.status, await resp.read(), dict(resp.headers)


async def test_a_photo_from_telegram_reaches_zalo_by_a_signed_link(
    apis: tuple[FakeTelegramAPI, FakeZaloAPI], db: Database, tmp_path: Path
) -> None:
    tg, zalo = apis
    await setup_people(db)
    await zalo_subscriber(db, zalo)
    async with both(tg, zalo, db, tmp_path / "data") as rt:
        await TgUser(tg, CITIZEN).say("/start sub_nghi-huong")
        admin = TgUser(tg, ADMIN, first_name="Bảo")
        await compose(
            admin,
            send(admin, tg.user_photo, "ph-ann", content=JPEG, caption="Beware of fake calls."),
        )
        since = zalo.mark()
        await go_out(rt, db)

        [photo, text] = zalo.sent_messages(ZALO_CITIZEN, since=since)
        assert photo.method == "sendPhoto" and photo.content == JPEG  # fetched by Zalo
        digest = hashlib.sha256(JPEG).hexdigest()
        assert photo.params["photo"].startswith(f"{rt.web.url}/media/{digest}/")
        status, body, _headers = await fetch(photo.params["photo"])
        assert (status, body) == (200, JPEG)
        assert text.text is not None and "Beware of fake calls." in text.text
        assert "1. Dừng nhận thông báo" in text.text
        assert (tmp_path / "data" / "media" / digest[:2] / digest).read_bytes() == JPEG

        [tg_photo] = [c for c in tg.sent_messages(CITIZEN) if c.method == "sendPhoto"]
        assert tg_photo.params["photo"] == "ph-ann"  # Telegram: the upload, by its file id
        assert tg_photo.params["caption"].startswith("📢 <b>Announcement from Tỉnh Nghệ An</b>")
        async with db.sessions() as s:
            [b] = (await s.execute(Broadcast.__table__.select())).all()
        assert b.content["media"]["sha256"] == digest and b.content["media"]["channel"] == (
            "telegram"
        )


async def test_a_leaflet_from_telegram_is_a_named_link_in_the_zalo_text(
    apis: tuple[FakeTelegramAPI, FakeZaloAPI], db: Database, tmp_path: Path
) -> None:
    tg, zalo = apis
    await setup_people(db)
    await zalo_subscriber(db, zalo)
    async with both(tg, zalo, db, tmp_path / "data") as rt:
        await TgUser(tg, CITIZEN).say("/start sub_nghi-huong")
        admin = TgUser(tg, ADMIN, first_name="Bảo")
        await compose(
            admin,
            send(
                admin,
                tg.user_document,
                "doc-ann",
                "to-roi chong lua dao.pdf",
                content=PDF,
                caption="Read the leaflet.",
            ),
        )
        since = zalo.mark()
        await go_out(rt, db)

        [text] = zalo.sent_messages(ZALO_CITIZEN, since=since)  # one message, no photo
        assert text.method == "sendMessage" and text.text is not None
        assert "Read the leaflet." in text.text
        found = re.search(r"to-roi chong lua dao\.pdf: (\S+)", text.text)
        assert found, text.text
        url = found.group(1)
        assert url.startswith(rt.web.url + "/media/") and url.endswith(
            "/to-roi%20chong%20lua%20dao.pdf"
        )
        status, body, headers = await fetch(url)
        assert (status, body) == (200, PDF)
        assert headers["Content-Type"] == "application/pdf"
        assert "to-roi%20chong%20lua%20dao.pdf" in headers["Content-Disposition"]
        forged = re.sub(r"/media/([0-9a-f]{64})/(\d+)/", r"/media/\1/9\2/", url)
        assert (await fetch(forged))[0] == 403  # a later expiry is not signed

        [tg_doc] = [c for c in tg.sent_messages(CITIZEN) if c.method == "sendDocument"]
        assert [f.data for f in tg_doc.files.values()] == [PDF]  # the leaflet itself


async def test_a_leaflet_given_to_the_command_line_reaches_both(
    apis: tuple[FakeTelegramAPI, FakeZaloAPI], db: Database, tmp_path: Path
) -> None:
    """``antt broadcast send --document``: the bytes ride on the broadcast until they are
    kept; then Zalo gets the named link and Telegram the file uploaded from the kept copy."""
    import base64

    from db.session import UnitOfWork
    from db.units import by_code
    from handlers.broadcast import save

    tg, zalo = apis
    await setup_people(db)
    await zalo_subscriber(db, zalo)
    async with both(tg, zalo, db, tmp_path / "data") as rt:
        await TgUser(tg, CITIZEN).say("/start sub_nghi-huong")
        async with UnitOfWork(db) as uow:  # as bot/commands/broadcast.py saves it
            unit = await by_code(uow.session, "nghe-an")
            assert isinstance(unit, Unit)
            content = {
                "text": "Tờ rơi phòng chống ma túy.",
                "urgent": False,
                "unit_name": unit.name,
                "media": {
                    "kind": "document",
                    "data": base64.b64encode(PDF).decode(),
                    "name": "to-roi.pdf",
                },
            }
            await save(
                uow.session,
                rt.settings,
                author_member_id=None,
                unit=unit,
                roles=[],
                citizens=True,
                content=content,
                send_at=None,
                now=utcnow(),
                recipients=2,
                status_identity_id=None,
            )
            await uow.commit()
        since = zalo.mark()
        await go_out(rt, db)

        [text] = zalo.sent_messages(ZALO_CITIZEN, since=since)
        found = re.search(r"to-roi\.pdf: (\S+)", text.text or "")
        assert found and found.group(1).endswith("/to-roi.pdf"), text.text
        assert (await fetch(found.group(1)))[:2] == (200, PDF)
        [tg_doc] = [c for c in tg.sent_messages(CITIZEN) if c.method == "sendDocument"]
        [upload] = tg_doc.files.values()
        assert (upload.data, upload.filename) == (PDF, "to-roi.pdf")
