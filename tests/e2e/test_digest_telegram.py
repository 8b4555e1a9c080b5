"""The digest and the export over Telegram against ``FakeTelegramAPI``: /digest answers
with a chart photo (``sendPhoto``, the heading as caption) and the text; /export with an
XLSX file (``sendDocument``); the scheduled digest goes out through the outbox sender."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import AsyncIterator

import pytest
from openpyxl import load_workbook

from bot.channels.telegram.channel import TelegramChannel
from bot.config import Settings
from bot.runtime import Runtime
from db.models import utcnow
from db.session import Database
from scheduler.digest import send_digests
from scheduler.outbox import OutboxSender
from tests.e2e.telegram_support import TOKEN, TgUser, bot_running, on_telegram
from tests.fakes.telegram_api import FakeTelegramAPI, UploadedFile
from tests.integration.digest_helpers import make_dataset

SUPERVISOR = 7001
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI(token=TOKEN) as fake:
        yield fake
        fake.assert_no_violations()


@pytest.fixture
async def bot(api: FakeTelegramAPI, db: Database) -> AsyncIterator[Runtime]:
    async with bot_running(api, db) as rt:
        yield rt


async def supervisor_on_telegram(db: Database) -> None:
    """The dataset, with the supervisor of Thành phố Vinh also on Telegram."""
    ds = await make_dataset(db)
    await on_telegram(db, ds.world.members["s-vinh"], SUPERVISOR, name="Sơn")


def upload(call_files: dict[str, UploadedFile]) -> UploadedFile:
    [found] = call_files.values()
    return found


async def test_digest_command_arrives_as_a_photo_then_text(
    api: FakeTelegramAPI, bot: Runtime, db: Database
) -> None:
    await supervisor_on_telegram(db)
    supervisor = TgUser(api, SUPERVISOR)
    await supervisor.say("/digest")
    methods = [c.method for c in supervisor.last]
    assert methods[0] == "sendPhoto" and set(methods[1:]) == {"sendMessage"}
    photo = supervisor.last[0]
    assert upload(photo.files).data.startswith(PNG)
    assert "Daily digest: Thành phố Vinh" in (photo.plain_text or "")
    assert "Progress against target, by task" in supervisor.text


async def test_export_command_arrives_as_a_document(
    api: FakeTelegramAPI, bot: Runtime, db: Database
) -> None:
    await supervisor_on_telegram(db)
    since = api.mark()
    api.user_message(SUPERVISOR, "/export", first_name="Sơn", language_code="en")
    call = await api.wait_for("sendDocument", chat_id=SUPERVISOR, since=since)
    sent = upload(call.files)
    assert sent.filename is not None and sent.filename.startswith("antt-vinh-")
    assert sent.filename.endswith(".xlsx")
    book = load_workbook(io.BytesIO(sent.data))
    assert book.sheetnames == ["Progress", "Check-ins", "Tips"]
    assert book["Progress"].max_row == 5  # the header and Vinh's four assignments
    assert "Export of Thành phố Vinh" in (call.plain_text or "")


async def test_scheduled_digest_goes_out_through_the_outbox(
    api: FakeTelegramAPI, db: Database
) -> None:
    await supervisor_on_telegram(db)
    now = utcnow()
    settings = Settings(quiet_start=dt.time(0), quiet_end=dt.time(0))
    # One a supervisor identity: s-vinh on Telegram and on "test", s-tinh on "test".
    assert await send_digests(db, settings, now) == 3
    async with api.make_bot() as tg:
        sender = OutboxSender(db, settings, {"telegram": TelegramChannel(tg)}, clock=utcnow)
        stats = await sender.drain_once()
    assert stats.sent == 1
    photo = await api.wait_for("sendPhoto", chat_id=SUPERVISOR)
    assert upload(photo.files).data.startswith(PNG)
    assert "Daily digest: Thành phố Vinh" in (photo.plain_text or "")
    texts = [c for c in api.sent_messages(SUPERVISOR) if c.method == "sendMessage"]
    assert texts and "Check-ins in the last 24 hours" in (texts[0].plain_text or "")
