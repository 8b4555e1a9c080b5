"""Zalo end to end: our bot (engine, ZaloService, web server) on real PostgreSQL against
``FakeZaloAPI`` over HTTP. Choices go out as numbered lists and come back as typed
numbers or labels; a tip goes all the way; a redelivered message is handled once;
a restart keeps reading numbers against the list shown before; a webhook call
without the secret is refused; nothing the fake calls a violation happens."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.config import Settings
from bot.runtime import Runtime, running
from db.models import Attachment, Identity, Tip
from db.session import Database, UnitOfWork
from tests.fakes.zalo_api import DEFAULT_TOKEN, ApiCall, FakeZaloAPI, real_payload
from tests.integration.tip_helpers import make_world

SECRET = "zalo-webhook-secret_42"
PUBLIC_URL = "https://bot.example.test/zalo/webhook"
CITIZEN = "e4ea2cd5189df1c3a88c"


@pytest.fixture
async def api() -> AsyncIterator[FakeZaloAPI]:
    async with FakeZaloAPI(long_poll_cap=0.5) as fake:
        yield fake
        fake.assert_no_violations()


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@contextlib.asynccontextmanager
async def zalo_bot(
    api: FakeZaloAPI,
    db: Database,
    data_dir: Path,
    *,
    webhook: bool = False,
    **overrides: Any,
) -> AsyncIterator[Runtime]:
    settings = Settings(
        zalo_token=DEFAULT_TOKEN + "\n",  # as pasted from a file: the newline is stripped
        zalo_api_url=api.root_url,
        zalo_webhook_secret=SECRET,
        secret_key="e2e-zalo-secret",
        web_host="127.0.0.1",
        web_port=0,
        data_dir=data_dir,
        **overrides,
    )  # type: ignore[call-arg]
    async with running(
        settings,
        db=db,
        telegram=False,
        zalo=True,
        zalo_webhook_url=PUBLIC_URL if webhook else None,
    ) as rt:
        yield rt


class ZaloUser:
    def __init__(self, api: FakeZaloAPI, user_id: str, name: str = "Nguyễn Văn A") -> None:
        self.api, self.user_id, self.name = api, user_id, name
        self.last: list[ApiCall] = []

    async def say(self, text: str) -> list[ApiCall]:
        since = self.api.mark()
        self.api.user_text(self.user_id, text, display_name=self.name)
        return await self._replies(since)

    async def send_photo(
        self, url: str, caption: str = "", field: str = "photo_url"
    ) -> list[ApiCall]:
        since = self.api.mark()
        self.api.user_image(self.user_id, url, caption=caption, field=field, display_name=self.name)
        return await self._replies(since)

    async def send_voice(self, url: str) -> list[ApiCall]:
        since = self.api.mark()
        self.api.user_voice(self.user_id, url, display_name=self.name)
        return await self._replies(since)

    async def send_unsupported(self) -> list[ApiCall]:
        since = self.api.mark()
        self.api.user_unsupported(self.user_id, display_name=self.name)
        return await self._replies(since)

    async def _replies(self, since: int) -> list[ApiCall]:
        await self.api.wait_for("sendMessage", chat_id=self.user_id, since=since, timeout=10)
        seen = -1
        while seen != len(self.api.calls):
            seen = len(self.api.calls)
            await asyncio.sleep(0.15)
        self.last = self.api.sent_messages(self.user_id, since=since)
        return self.last

    @property
    def text(self) -> str:
        return "\n".join(c.text or "" for c in self.last)

    def number_of(self, label: str) -> str:
        """The number in front of ``label`` in the last list shown."""
        found = re.search(rf"^(\d+)\. {re.escape(label)}", self.text, re.M)
        assert found, f"{label!r} not offered in:\n{self.text}"
        return found.group(1)


async def test_menu_by_number_and_label_and_a_tip_with_a_photo(
    api: FakeZaloAPI, db: Database, data_dir: Path
) -> None:
    await make_world(db)
    async with zalo_bot(api, db, data_dir):
        citizen = ZaloUser(api, CITIZEN)
        await citizen.say("/start")
        assert "Trả lời bằng một số:" in citizen.text
        assert all(len(c.text or "") <= 2000 for c in citizen.last)
        await citizen.say("/lang")
        await citizen.say("English")  # a label, typed in any case, is a choice too
        assert "Language set to English." in citizen.text
        await citizen.say(citizen.number_of("Send a tip"))
        assert "Reply with a number:" in citizen.text
        await citizen.say(citizen.number_of("Drugs"))
        await citizen.say("People sell <b>pills</b> behind the market every evening.")
        kiosk = api.host_media(b"\xff\xd8\xff kiosk", ".jpg")
        await citizen.send_photo(kiosk, caption="The kiosk", field="photo")  # as documented
        await citizen.say(citizen.number_of("Done"))
        assert "Type the name of the commune or ward." in citizen.text
        await citizen.say("nghi huong")
        await citizen.say(citizen.number_of("Skip"))
        assert "Type your phone number." in citizen.text
        await citizen.say(citizen.number_of("Stay anonymous"))
        await citizen.say(citizen.number_of("Send"))
        code = re.search(r"\d{4}-\d{4}-\d{4}-\d{4}", citizen.text)
        assert code, citizen.text
        assert "<b>" not in citizen.text  # plain text: no markup reaches Zalo
    async with db.sessions() as s:
        tip = await s.scalar(select(Tip))
        files = (await s.execute(select(Attachment.channel, Attachment.file_id))).all()
    assert tip is not None and tip.anonymous and "<b>pills</b>" in tip.description
    assert files == [("zalo", kiosk)]


async def test_a_redelivered_message_is_handled_once(
    api: FakeZaloAPI, db: Database, data_dir: Path
) -> None:
    async with zalo_bot(api, db, data_dir):
        citizen = ZaloUser(api, CITIZEN)
        update = api.user_text(CITIZEN, "/start", display_name="A")
        await api.wait_for("sendMessage", chat_id=CITIZEN, timeout=10)
        await asyncio.sleep(0.3)
        answered = len(api.sent_messages(CITIZEN))
        api.redeliver(update)
        await citizen.say("/help")  # handled after the redelivery (one person, in order)
        assert len(api.sent_messages(CITIZEN)) == answered + len(citizen.last)
    async with db.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Identity)) == 1


async def test_numbers_are_read_against_the_list_shown_before_a_restart(
    api: FakeZaloAPI, db: Database, data_dir: Path
) -> None:
    async with zalo_bot(api, db, data_dir):
        citizen = ZaloUser(api, CITIZEN)
        await citizen.say("/lang")
        number = citizen.number_of("English")
    async with zalo_bot(api, db, data_dir):  # a new process: nothing in memory
        await citizen.say(number)
        assert "Language set to English." in citizen.text


async def test_webhook_needs_the_secret(api: FakeZaloAPI, db: Database, data_dir: Path) -> None:
    async with zalo_bot(api, db, data_dir, webhook=True) as rt:
        assert api.webhook_url == PUBLIC_URL and api.webhook_secret == SECRET
        local = rt.web.url + rt.settings.zalo_webhook_path
        forged = api.user_text(CITIZEN, "/start", push=False)
        assert await api.post_webhook(local, forged, secret="wrong-secret") == 401
        assert await api.post_webhook(local, forged, secret="") == 401
        assert api.sent_messages(CITIZEN) == []
        update = api.user_text(CITIZEN, "/start", push=False)
        assert await api.post_webhook(local, update, wrapped=True) == 200
        assert api.sent_messages(CITIZEN), "handled before the answer"
        again = len(api.sent_messages(CITIZEN))
        assert await api.post_webhook(local, update) == 200  # a redelivery, bare
        assert len(api.sent_messages(CITIZEN)) == again


async def blocked_at(db: Database, user_id: str = CITIZEN) -> dt.datetime | None:
    async with db.sessions() as s:
        return await s.scalar(select(Identity.blocked_at).where(Identity.external_id == user_id))


@pytest.mark.parametrize("code", [403, 500, 502])
async def test_internal_errors_are_retried_and_never_mark_the_person_blocked(
    api: FakeZaloAPI, db: Database, data_dir: Path, code: int
) -> None:
    async with zalo_bot(api, db, data_dir):
        citizen = ZaloUser(api, CITIZEN)
        api.fail_next("sendMessage", code, chat_id=CITIZEN, times=2)
        await citizen.say("/start")
        assert "Trả lời bằng một số:" in citizen.text
        assert [c.error and c.error["error_code"] for c in api.failed_calls] == [code, code]
        assert await blocked_at(db) is None  # on Zalo, 403 is an internal error


@pytest.mark.parametrize("code", [410, 422])
async def test_an_unreachable_person_gets_nothing_more_until_they_write_again(
    api: FakeZaloAPI, db: Database, data_dir: Path, code: int
) -> None:
    from handlers.notify import enqueue
    from handlers.types import Message
    from scheduler.outbox import OutboxSender

    async with zalo_bot(api, db, data_dir) as rt:
        citizen = ZaloUser(api, CITIZEN)
        api.fail_next("sendMessage", code, chat_id=CITIZEN)
        since = api.mark()
        api.user_text(CITIZEN, "/start")
        for _ in range(50):
            if await blocked_at(db) is not None:
                break
            await asyncio.sleep(0.1)
        assert await blocked_at(db) is not None
        assert api.sent_messages(CITIZEN, since=since) == []
        assert len(api.failed_calls) == 1  # not retried: the person cannot be reached
        async with UnitOfWork(db) as uow:
            identity = await uow.session.scalar(select(Identity))  # (identity_for unblocks)
            assert identity is not None
            await enqueue(uow.session, identity, lambda: [Message("Nhắc")], dedup_key="n:1")
            await uow.commit()
        morning = dt.datetime(2030, 1, 7, 2, 0, tzinfo=dt.UTC)
        sender = OutboxSender(db, rt.settings, rt.channels(), clock=lambda: morning)
        stats = await sender.drain_once()
        assert (stats.sent, stats.blocked) == (0, 1)  # skipped without a call
        assert api.sent_messages(CITIZEN, since=since) == []
        await citizen.say("/help")  # they write again: reachable again
        assert citizen.last
        assert await blocked_at(db) is None


async def test_quota_exceeded_backs_off_with_growing_delays(
    api: FakeZaloAPI, db: Database, data_dir: Path
) -> None:
    async with zalo_bot(api, db, data_dir):
        citizen = ZaloUser(api, CITIZEN)
        api.fail_next("sendMessage", 429, chat_id=CITIZEN, times=2)
        await citizen.say("/start")
        assert "Trả lời bằng một số:" in citizen.text
        first, second = (c.timestamp for c in api.failed_calls)
        answered = api.sent_messages(CITIZEN)[0].timestamp
        assert second - first >= 0.45 and answered - second >= 0.9  # 0.5 s, then 1 s


async def test_quota_exceeded_in_the_outbox_counts_attempts_and_waits_longer_each_time(
    api: FakeZaloAPI, db: Database, data_dir: Path
) -> None:
    from db.members import identity_for
    from db.models import Outbox
    from handlers.notify import enqueue
    from handlers.types import Message
    from scheduler.outbox import OutboxSender

    async with zalo_bot(api, db, data_dir) as rt:
        api.user_text(CITIZEN, "hi", push=False)
        async with UnitOfWork(db) as uow:
            identity = await identity_for(uow.session, "zalo", CITIZEN)
            await enqueue(uow.session, identity, lambda: [Message("Nhắc")], dedup_key="q:1")
            await uow.commit()
        now = dt.datetime(2030, 1, 7, 2, 0, tzinfo=dt.UTC)
        sender = OutboxSender(db, rt.settings, rt.channels(), clock=lambda: now)
        waits = []
        for attempt in (1, 2):
            api.fail_next("sendMessage", 429, chat_id=CITIZEN)
            assert (await sender.drain_once()).sent == 0
            async with db.sessions() as s:
                row = await s.scalar(select(Outbox))
            assert row is not None
            assert (row.status, row.attempts) == ("pending", attempt)
            waits.append((row.not_before - now).total_seconds())
            now = row.not_before
        assert waits[1] > waits[0] > 0
        assert (await sender.drain_once()).sent == 1
        assert await blocked_at(db) is None


async def test_a_reminder_from_the_outbox_arrives_numbered_and_its_numbers_work(
    api: FakeZaloAPI, db: Database, data_dir: Path
) -> None:
    from db.members import identity_for
    from handlers.notify import enqueue
    from handlers.types import Choice, Message
    from scheduler.outbox import OutboxSender

    async with zalo_bot(api, db, data_dir) as rt:
        citizen = ZaloUser(api, CITIZEN)
        await citizen.say("/lang")
        await citizen.say("English")  # the announcement is rendered in English, then
        async with UnitOfWork(db) as uow:
            identity = await identity_for(uow.session, "zalo", CITIZEN)
            await enqueue(
                uow.session,
                identity,
                lambda: [Message("Announcement", choices=[Choice("m:lang", "Language")])],
                dedup_key="announce:1",
            )
            await uow.commit()
        assert rt.zalo is not None
        morning = dt.datetime(2030, 1, 7, 2, 0, tzinfo=dt.UTC)  # 09:00 in Vinh: not quiet
        sender = OutboxSender(db, rt.settings, rt.channels(), clock=lambda: morning)
        since = api.mark()
        assert (await sender.drain_once()).sent == 1
        [sent] = api.sent_messages(CITIZEN, since=since)
        assert sent.text == "Announcement\n\nReply with a number:\n1. Language"
        await citizen.say("1")  # "Language", from the announcement's list
        assert "Choose your language" in citizen.text and "2. English" in citizen.text


async def test_antt_scheduler_sends_through_zalo_when_it_has_a_token(
    api: FakeZaloAPI, db: Database, data_dir: Path
) -> None:
    from bot.commands.scheduler import sending_channels
    from handlers.types import Message

    api.user_text(CITIZEN, "hi", push=False)  # the chat exists on Zalo's side
    settings = Settings(zalo_token=DEFAULT_TOKEN, zalo_api_url=api.root_url)  # type: ignore[call-arg]
    async with sending_channels(settings, db) as channels:
        assert set(channels) == {"zalo"}
        await channels["zalo"].send(CITIZEN, [Message("<b>Nhắc hạn</b> báo cáo quý")])
    [sent] = api.sent_messages(CITIZEN)
    assert sent.text == "Nhắc hạn báo cáo quý"


JPEG = b"\xff\xd8\xff\xe0 evidence photo from the market"
AAC = b"\xff\xf1\x50\x80 a voice note"
OFFICER = "b7c31f0e9a2d44e6a8f1"


async def zalo_officer(db: Database, world_unit: int) -> None:
    """The officer of Phường Nghi Hương, on Zalo."""
    from db.members import ensure_member, grant_role, identity_for
    from db.models import Role

    async with db.sessions() as s:
        identity = await identity_for(s, "zalo", OFFICER, display_name="Officer", language="en")
        member = await ensure_member(s, identity, "Trần Văn Công")
        await grant_role(s, member.id, world_unit, Role.OFFICER, granted_by=None)
        await s.commit()


async def test_a_photo_and_a_voice_note_mid_tip_reach_the_officer_from_the_kept_copy(
    api: FakeZaloAPI, db: Database, data_dir: Path
) -> None:
    from scheduler.outbox import OutboxSender

    world = await make_world(db)
    await zalo_officer(db, world.units["nghi-huong"])
    api.user_text(OFFICER, "hi", push=False)  # the officer's chat exists on Zalo's side
    async with zalo_bot(api, db, data_dir, public_url="http://127.0.0.1:0") as rt:
        # The fake fetches photos from our web server: point the links at where it listens.
        assert rt.zalo is not None
        rt.zalo.settings.public_url = rt.web.url
        citizen = ZaloUser(api, CITIZEN)
        await citizen.say("/lang")
        await citizen.say("English")
        await citizen.say(citizen.number_of("Send a tip"))
        await citizen.say(citizen.number_of("Drugs"))
        await citizen.say("Pills are sold behind the market every evening.")
        photo_url, voice_url = api.host_media(JPEG, ".jpg"), api.host_media(AAC, ".aac")
        update = api.user_image(CITIZEN, photo_url, push=False)  # real-shaped: photo_url
        assert sorted(update["message"]) == sorted(real_payload("image")["result"]["message"])
        await citizen.send_photo(photo_url)
        assert "1 file(s) attached" in citizen.text
        await citizen.send_voice(voice_url)
        assert "2 file(s) attached" in citizen.text
        await citizen.say(citizen.number_of("Done"))
        await citizen.say("nghi huong")
        await citizen.say(citizen.number_of("Skip"))
        await citizen.say(citizen.number_of("Stay anonymous"))
        await citizen.say(citizen.number_of("Send"))
        assert re.search(r"\d{4}-\d{4}-\d{4}-\d{4}", citizen.text), citizen.text
        await rt.zalo.media.idle()
        async with db.sessions() as s:
            kept = (await s.execute(select(Attachment.kind, Attachment.sha256))).all()
        digests = {
            "photo": hashlib.sha256(JPEG).hexdigest(),
            "voice": hashlib.sha256(AAC).hexdigest(),
        }
        assert sorted(kept) == sorted(digests.items())
        for digest in digests.values():
            assert (data_dir / "media" / digest[:2] / digest).is_file()
        api.expire_media(photo_url)  # Zalo's URLs expire: the evidence must not
        api.expire_media(voice_url)

        officer = ZaloUser(api, OFFICER)
        since = api.mark()
        morning = dt.datetime(2030, 1, 7, 2, 0, tzinfo=dt.UTC)
        sender = OutboxSender(db, rt.settings, rt.channels(), clock=lambda: morning)
        assert (await sender.drain_once()).sent == 1
        officer.last = api.sent_messages(OFFICER, since=since)
        assert "New tip #" in officer.text
        await officer.say(officer.number_of("Open"))
        await officer.say(officer.number_of("Show files (2)"))
        [photo] = [c for c in officer.last if c.method == "sendPhoto"]
        assert photo.content == JPEG  # Zalo fetched it from our kept copy
        assert re.fullmatch(r"#\d+ · photo 1/2", photo.params["caption"])
        assert rt.web.url + "/media/" + digests["photo"] in photo.params["photo"]
        voice_line = re.search(r"#\d+ · voice 2/2: (\S+)", officer.text)
        assert voice_line, officer.text
        async with aiohttp.ClientSession() as http:
            async with http.get(voice_line.group(1)) as resp:
                assert (resp.status, await resp.read()) == (200, AAC)
            async with http.get(voice_line.group(1).replace("/media/", "/media/0")) as resp:
                assert resp.status in (403, 404)  # an altered link opens nothing
