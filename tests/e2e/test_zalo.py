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
        assert rt.zalo is not None and rt.zalo.settings.public_url == "https://bot.example.test"
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


@pytest.mark.parametrize("code", [429, 403])
async def test_quota_or_internal_error_in_the_outbox_counts_attempts_and_waits_longer(
    api: FakeZaloAPI, db: Database, data_dir: Path, code: int
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
            api.fail_next("sendMessage", code, chat_id=CITIZEN)
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
        assert "1 file attached" in citizen.text
        await citizen.send_voice(voice_url)
        assert "2 files attached" in citizen.text
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


async def test_a_protected_account_is_told_once_how_else_to_reach_the_police(
    api: FakeZaloAPI, db: Database, data_dir: Path
) -> None:
    async with zalo_bot(api, db, data_dir):
        child = ZaloUser(api, CITIZEN)
        await child.send_unsupported()  # every message of theirs arrives like this
        assert "Tôi chỉ nhận được tin nhắn văn bản, ảnh và tin nhắn thoại." in child.text
        assert "gọi 113 (công an), 114 (cứu hỏa) hoặc 115 (cấp cứu)" in child.text
        assert "Trả lời bằng một số:" in child.text  # and the menu again
        await child.send_unsupported()
        assert "Tôi chỉ nhận được tin nhắn văn bản, ảnh và tin nhắn thoại." in child.text
        assert "113" not in child.text  # told once
        api.user_unsupported("nobody", with_message=False)  # names nobody: nothing to answer
        await child.send_unsupported()
        assert "113" not in child.text


async def test_unsupported_mid_tip_asks_the_question_again_and_names_the_commune_police(
    api: FakeZaloAPI, db: Database, data_dir: Path
) -> None:
    from db.models import Unit

    world = await make_world(db)
    async with db.sessions() as s:
        unit = await s.get(Unit, world.units["nghi-huong"])
        assert unit is not None
        unit.phone = "0238 3855 113"
        await s.commit()
    async with zalo_bot(api, db, data_dir):
        citizen = ZaloUser(api, CITIZEN)
        await citizen.say("/lang")
        await citizen.say("English")
        await citizen.say(citizen.number_of("Send a tip"))
        await citizen.say(citizen.number_of("Drugs"))
        await citizen.say("Pills are sold behind the market every evening.")
        await citizen.say(citizen.number_of("Skip: no files"))
        await citizen.say("nghi huong")
        await citizen.say(citizen.number_of("Skip"))
        question = citizen.text
        assert "Stay anonymous" in question
        await citizen.send_unsupported()  # e.g. a contact card
        hint = "I cannot read this kind of message. I can take text, photos and voice messages."
        assert citizen.text.startswith(hint)
        assert citizen.text.endswith(question)  # the current question again
        assert "113" not in citizen.text
        since = api.mark()
        api.user_sticker(CITIZEN, "bfe458bf64fa8da4d4eb")  # the second in a row
        await citizen._replies(since)
        assert citizen.text.startswith(hint)
        assert "call 113 (police), 114 (fire) or 115 (ambulance)" in citizen.text
        assert "Police of Phường Nghi Hương: 0238 3855 113" in citizen.text
        assert citizen.text.endswith(question)
        await citizen.say(citizen.number_of("Stay anonymous"))
        assert "Send" in citizen.text


@pytest.mark.parametrize(
    "message",
    [
        {"chat": "e4ea2cd5189df1c3a88c", "from": {"id": "x"}, "text": "hi"},
        {"chat": {"id": CITIZEN}, "from": ["x"], "text": "hi"},
        {"chat": {"id": CITIZEN}, "from": {"id": CITIZEN}, "date": 10**30, "text": "hi"},
        "not an object",
    ],
)
async def test_a_malformed_update_with_the_right_secret_gets_400_never_500(
    api: FakeZaloAPI, db: Database, data_dir: Path, message: Any
) -> None:
    async with zalo_bot(api, db, data_dir, webhook=True) as rt:
        local = rt.web.url + rt.settings.zalo_webhook_path
        update = {"event_name": "message.text.received", "message": message}
        assert await api.post_webhook(local, update) == 400
        bare = {"event_name": "message.unsupported.received"}
        assert await api.post_webhook(local, bare) == 200  # well-formed, names nobody
        assert api.sent_messages() == []


async def test_typing_shows_while_the_engine_works_on_a_slow_message(
    api: FakeZaloAPI, db: Database, data_dir: Path
) -> None:
    from db.models import Conversation

    async with zalo_bot(api, db, data_dir) as rt:
        assert rt.zalo is not None
        rt.zalo.typing_after = 2.0
        citizen = ZaloUser(api, CITIZEN)
        await citizen.say("/start")
        assert api.calls_of("sendChatAction") == []  # a quick answer: no indicator
        rt.zalo.typing_after = 0.2
        # Slow the next update down for real: another transaction holds the person's
        # conversation row, which the engine must lock.
        async with db.sessions() as s, s.begin():
            await s.execute(select(Conversation).with_for_update())
            since = api.mark()
            api.user_text(CITIZEN, "/help")
            typing = await api.wait_for("sendChatAction", since=since, timeout=5)
            assert typing.params == {"chat_id": CITIZEN, "action": "typing"}
            assert api.sent_messages(CITIZEN, since=since) == []
        answer = await api.wait_for("sendMessage", since=since, timeout=5)
        assert answer.seq > typing.seq


async def test_send_photo_waits_longer_sends_once_and_a_failed_photo_never_blocks_the_text(
    api: FakeZaloAPI, db: Database
) -> None:
    from bot.channels.zalo.channel import ZaloChannel
    from bot.channels.zalo.client import ZaloClient
    from handlers.types import MediaRef, Message

    api.user_text(CITIZEN, "hi", push=False)
    api.photo_delay = 0.6  # Zalo fetches the photo before it answers
    client = ZaloClient(DEFAULT_TOKEN, api.root_url, call_wait=0.3, photo_wait=3.0)
    await client.start()
    try:
        channel = ZaloChannel(client, db, backoff=0.05)
        photo = MediaRef("photo", api.host_media(JPEG), name="#1 · photo 1/1")
        await channel.send_reply(CITIZEN, [Message("Tip #1", files=(photo,))])
        assert [(c.method, c.text) for c in api.sent_messages(CITIZEN)] == [
            ("sendPhoto", "#1 · photo 1/1"),
            ("sendMessage", "Tip #1"),
        ]
        # A photo whose sendPhoto times out is not sent again (Zalo may have sent it) ...
        short = ZaloClient(DEFAULT_TOKEN, api.root_url, call_wait=0.3, photo_wait=0.2)
        await short.start()
        try:
            since = api.mark()
            await ZaloChannel(short, db, backoff=0.05).send_reply(
                CITIZEN, [Message("Tip #2", files=(photo,))]
            )
            await api.wait_for("sendPhoto", since=since, timeout=5)  # Zalo finishes it
            await asyncio.sleep(0.8)  # a retried photo would have landed by now
            assert [c.method for c in api.sent_messages(CITIZEN, since=since)] == [
                "sendMessage",
                "sendPhoto",
            ]
        finally:
            await short.close()
        # ... and one Zalo cannot fetch is skipped: its text goes all the same.
        api.photo_delay = 0.0
        gone = MediaRef("photo", api.host_media(JPEG))
        api.expire_media(gone.file_id)
        since = api.mark()
        await channel.send(CITIZEN, [Message("Tip #3", files=(gone,))])
        assert [c.text for c in api.sent_messages(CITIZEN, since=since)] == ["Tip #3"]
        assert [c.method for c in api.errors] == ["sendPhoto"]
    finally:
        await client.close()


async def test_a_telegram_officer_gets_a_zalo_tips_photo_and_voice_from_the_kept_copy(
    api: FakeZaloAPI, db: Database, data_dir: Path
) -> None:
    from tests.e2e.telegram_support import TOKEN as TG_TOKEN
    from tests.e2e.telegram_support import TgUser, on_telegram
    from tests.e2e.test_tip_telegram import press_on
    from tests.fakes.telegram_api import FakeTelegramAPI

    world = await make_world(db)
    async with FakeTelegramAPI(token=TG_TOKEN) as tg:
        settings = Settings(
            zalo_token=DEFAULT_TOKEN,
            zalo_api_url=api.root_url,
            telegram_token=TG_TOKEN,
            telegram_api_url=tg.root_url,
            secret_key="e2e-zalo-secret",
            web_host="127.0.0.1",
            web_port=0,
            data_dir=data_dir,
        )  # type: ignore[call-arg]
        async with running(settings, db=db, telegram=True, zalo=True) as rt:
            assert rt.zalo is not None
            citizen = ZaloUser(api, CITIZEN)
            await citizen.say("/lang")
            await citizen.say("English")
            await citizen.say(citizen.number_of("Send a tip"))
            await citizen.say(citizen.number_of("Drugs"))
            await citizen.say("Pills are sold behind the market every evening.")
            await citizen.send_photo(api.host_media(JPEG, ".jpg"))
            await citizen.send_voice(api.host_media(AAC, ".aac"))
            await citizen.say(citizen.number_of("Done"))
            await citizen.say("nghi huong")
            await citizen.say(citizen.number_of("Skip"))
            await citizen.say(citizen.number_of("Stay anonymous"))
            await citizen.say(citizen.number_of("Send"))
            await rt.zalo.media.idle()
            async with db.sessions() as s:
                tip = await s.scalar(select(Tip))
            assert tip is not None

            await on_telegram(db, world.members["o-nh"], 7001, name="Hoa")
            officer = TgUser(tg, 7001, first_name="Hoa")
            await officer.say("/tips")
            await press_on(officer, f"tr:open:{tip.id}")
            since = tg.mark()
            await press_on(officer, f"tr:files:{tip.id}")
            calls = [c for c in tg.sent_messages(7001) if c.seq >= since]
            uploads = [(c.method, [f.data for f in c.files.values()]) for c in calls[:2]]
            assert uploads == [("sendPhoto", [JPEG]), ("sendDocument", [AAC])]
            assert f"Files of tip #{tip.id}: 2" in officer.text
            assert "another channel" not in officer.text
            tg.assert_no_violations()
