"""The Telegram channel end to end: our bot (engine, PTB over HTTP, aiohttp server) on real
PostgreSQL, against ``FakeTelegramAPI``, which checks every request against the Bot API."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.runtime import Runtime
from db.models import Conversation, Identity, ProcessedUpdate
from db.session import Database
from tests.e2e.telegram_support import (
    PUBLIC_URL,
    SECRET,
    TOKEN,
    TgUser,
    bot_running,
    replies,
    webhook_url,
)
from tests.fakes.telegram_api import FakeTelegramAPI


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI(token=TOKEN) as fake:
        yield fake
        fake.assert_no_violations()


@pytest.fixture
async def bot(api: FakeTelegramAPI, db: Database) -> AsyncIterator[Runtime]:
    async with bot_running(api, db) as rt:
        yield rt


@pytest.fixture
async def hooked(api: FakeTelegramAPI, db: Database) -> AsyncIterator[Runtime]:
    async with bot_running(api, db, webhook=True) as rt:
        yield rt


async def scalar(db: Database, stmt: object) -> object:
    async with db.sessions() as s:
        return await s.scalar(stmt)  # type: ignore[call-overload]


async def processed(db: Database) -> int:
    return int(await scalar(db, select(func.count()).select_from(ProcessedUpdate)) or 0)  # type: ignore[arg-type]


async def identity(db: Database, user_id: int) -> Identity | None:
    async with db.sessions() as s:
        return await s.scalar(select(Identity).where(Identity.external_id == str(user_id)))


# --- the basics ---------------------------------------------------------------------------


async def test_start_shows_menu_keyboard(api: FakeTelegramAPI, bot: Runtime) -> None:
    user = TgUser(api, 1001)
    await user.say("/start")
    assert "113" in user.text and "What would you like to do?" in user.text
    markup = user.last[-1].reply_markup
    assert markup is not None and "inline_keyboard" in markup
    assert "m:lang" in user.buttons and all(b.startswith("m:") for b in user.buttons)
    assert user.last[-1].params["parse_mode"] == "HTML"


async def test_commands_are_published_in_both_languages(api: FakeTelegramAPI, bot: Runtime) -> None:
    calls = {c.params.get("language_code"): c for c in api.calls_of("setMyCommands")}
    assert set(calls) == {None, "vi", "en"}
    english = {c["command"]: c["description"] for c in calls["en"].params["commands"]}
    assert {"start", "menu", "help", "lang", "me", "cancel"} <= set(english)
    assert english["cancel"] == "Stop what you are doing"
    vietnamese = {c["command"]: c["description"] for c in calls["vi"].params["commands"]}
    assert vietnamese.keys() == english.keys()


async def test_button_press_is_answered_and_replied(api: FakeTelegramAPI, bot: Runtime) -> None:
    user = TgUser(api, 1002)
    await user.say("/start")
    await user.press("m:lang")
    assert len(api.callback_answers) == 1  # the spinner stopped
    assert "Choose your language" in user.text
    rows = user.last[-1].reply_markup["inline_keyboard"]  # type: ignore[index]
    assert [[b["callback_data"] for b in row] for row in rows] == [["lang:vi", "lang:en"]]


async def test_lang_flow_switches_and_persists(
    api: FakeTelegramAPI, bot: Runtime, db: Database
) -> None:
    user = TgUser(api, 1003, language_code="vi")
    await user.say("/lang")
    await user.press("lang:en")
    assert "Language set to English." in user.text
    await user.say("/help")
    assert "the main menu" in user.text
    found = await identity(db, 1003)
    assert found is not None and found.language == "en"


async def test_language_code_picks_the_first_language(api: FakeTelegramAPI, bot: Runtime) -> None:
    vi = TgUser(api, 1004, language_code="vi")
    await vi.say("/start")
    assert "What would you like to do?" not in vi.text
    en = TgUser(api, 1005, language_code="en-GB")
    await en.say("/start")
    assert "What would you like to do?" in en.text


async def test_cancel_mid_flow(api: FakeTelegramAPI, bot: Runtime, db: Database) -> None:
    user = TgUser(api, 1006)
    await user.say("/lang")
    await user.say("/cancel")
    assert "Cancelled. Nothing was saved." in user.text
    conversation = await scalar(db, select(Conversation))
    assert isinstance(conversation, Conversation) and conversation.flow is None


async def test_two_quick_taps_are_handled_in_order(api: FakeTelegramAPI, bot: Runtime) -> None:
    since = api.mark()
    api.user_message(1007, "/lang", language_code="en")
    api.user_message(1007, "English", language_code="en")  # sent before any answer came
    await api.wait_for("sendMessage", count=2, chat_id=1007, since=since)
    texts = [c.plain_text or "" for c in api.sent_messages(1007)]
    assert "Choose your language" in texts[0]
    assert "Language set to English." in texts[1]


async def test_user_text_is_escaped(api: FakeTelegramAPI, bot: Runtime) -> None:
    user = TgUser(api, 1008, first_name="<b>Bob</b> & <i>Co", last_name="&amp;")
    await user.say("/start")
    # The fake rejects malformed HTML (see the fixture); the name shows as typed.
    assert "Hello <b>Bob</b> & <i>Co &amp;!" in user.text


async def test_unknown_input_gets_a_hint_and_the_question_again(
    api: FakeTelegramAPI, bot: Runtime
) -> None:
    user = TgUser(api, 1009)
    await user.say("/lang")
    await user.say("Klingon")
    assert "choose one of the languages" in user.text
    assert user.buttons == ["lang:vi", "lang:en"]


async def test_media_location_and_contact_reach_the_engine(
    api: FakeTelegramAPI, bot: Runtime, db: Database
) -> None:
    """Outside a flow each of them gets the main menu: the update was understood and handled."""
    user = TgUser(api, 1010)
    for send in (
        lambda: api.user_photo(1010, "photo-1", caption="look"),
        lambda: api.user_location(1010, 18.67, 105.69),
        lambda: api.user_contact(1010, "+84900000000"),
        lambda: api.user_document(1010, "doc-1", "report.pdf"),
        lambda: api.user_voice(1010, "voice-1"),
        lambda: api.user_video(1010, "video-1"),
    ):
        since = api.mark()
        send()
        user.last = await replies(api, 1010, since)
        assert user.buttons, "answered with the menu"
    assert await processed(db) == 6


# --- delivery problems --------------------------------------------------------------------


async def test_403_marks_the_identity_blocked(
    api: FakeTelegramAPI, bot: Runtime, db: Database
) -> None:
    user = TgUser(api, 1020)
    await user.say("/start")
    api.fail_next("sendMessage", 403, chat_id=1020)
    api.user_message(1020, "/menu", language_code="en")
    for _ in range(50):
        found = await identity(db, 1020)
        if found is not None and found.blocked_at is not None:
            break
        await asyncio.sleep(0.05)
    assert found is not None and found.blocked_at is not None
    assert len(api.failed_calls) == 1  # not retried
    await user.say("/start")  # writing again unblocks
    found = await identity(db, 1020)
    assert found is not None and found.blocked_at is None


async def test_blocking_the_bot_marks_the_identity_blocked(
    api: FakeTelegramAPI, bot: Runtime, db: Database
) -> None:
    await TgUser(api, 1021).say("/start")
    api.block_bot(1021)  # a my_chat_member update: member -> kicked
    for _ in range(50):
        found = await identity(db, 1021)
        if found is not None and found.blocked_at is not None:
            break
        await asyncio.sleep(0.05)
    assert found is not None and found.blocked_at is not None


async def test_429_is_waited_out_and_retried(api: FakeTelegramAPI, bot: Runtime) -> None:
    user = TgUser(api, 1022)
    api.fail_next("sendMessage", 429, retry_after=1, chat_id=1022)
    started = time.monotonic()
    await user.say("/start")
    assert time.monotonic() - started >= 1.0
    assert [c.error["error_code"] for c in api.failed_calls] == [429]  # type: ignore[index]
    assert "What would you like to do?" in user.text


async def test_server_errors_are_retried_with_backoff(api: FakeTelegramAPI, bot: Runtime) -> None:
    user = TgUser(api, 1023)
    api.fail_next("sendMessage", 502, times=2, chat_id=1023)
    await user.say("/start")
    assert len(api.failed_calls) == 2
    assert len(user.last) == 1 and "What would you like to do?" in user.text


# --- restart --------------------------------------------------------------------------------


async def test_restart_mid_conversation_resumes_at_the_same_step(
    api: FakeTelegramAPI, db: Database
) -> None:
    user = TgUser(api, 1030)
    async with bot_running(api, db):
        await user.say("/lang")
        assert "Choose your language" in user.text
    # A new process: a new Application, engine and web server on the same database.
    async with bot_running(api, db):
        await user.say("English")
        assert "Language set to English." in user.text


# --- webhook -----------------------------------------------------------------------------


async def test_webhook_is_set_with_the_secret(api: FakeTelegramAPI, hooked: Runtime) -> None:
    assert api.webhook_url == PUBLIC_URL
    assert api.webhook_secret == SECRET
    since = api.mark()
    update = api.user_message(1040, "/start", language_code="en", push=False)
    assert await api.post_webhook(webhook_url(hooked), update) == 200
    # Processed before the answer: the reply is already there.
    assert any("113" in (c.plain_text or "") for c in api.sent_messages(1040) if c.seq >= since)


async def test_duplicated_update_is_handled_once(
    api: FakeTelegramAPI, hooked: Runtime, db: Database
) -> None:
    update = api.user_message(1041, "/start", language_code="en", push=False)
    url = webhook_url(hooked)
    assert await api.post_webhook(url, update) == 200
    assert await api.post_webhook(url, update) == 200
    assert len(api.sent_messages(1041)) == 1
    assert await processed(db) == 1


async def test_forged_webhook_call_is_refused(
    api: FakeTelegramAPI, hooked: Runtime, db: Database
) -> None:
    url = webhook_url(hooked)
    forged = api.user_message(1042, "/start", push=False)
    assert await api.post_webhook(url, forged, secret="wrong-secret") == 401
    assert await api.post_webhook(url, forged, omit_secret=True) == 401
    assert await api.post_webhook(url, forged, secret=SECRET + "x") == 401
    assert await processed(db) == 0
    assert api.sent_messages(1042) == []
    assert await api.post_webhook(url, forged) == 200  # the real one still goes through
    assert await processed(db) == 1


async def test_webhook_rejects_garbage(hooked: Runtime) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            webhook_url(hooked),
            data=b"not json",
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
        ) as resp,
    ):
        assert resp.status == 400


# --- health --------------------------------------------------------------------------------


async def test_healthz(bot: Runtime) -> None:
    async with aiohttp.ClientSession() as http, http.get(bot.web.url + "/healthz") as resp:
        assert resp.status == 200
        assert await resp.json() == {"ok": True, "db": True, "down": {}}


async def test_healthz_reports_a_dead_database(tmp_path: object) -> None:
    from bot.web import WebServer, create_web_app

    dead = Database(f"postgresql+asyncpg://postgres:@/postgres?host={tmp_path}", pool_size=1)
    server = WebServer(create_web_app(dead), "127.0.0.1", 0)
    await server.start()
    try:
        async with aiohttp.ClientSession() as http, http.get(server.url + "/healthz") as resp:
            assert resp.status == 503
            assert await resp.json() == {"ok": False, "db": False, "down": {}}
    finally:
        await server.stop()
        await dead.dispose()


# --- secrets -------------------------------------------------------------------------------


async def test_token_never_reaches_the_logs(
    api: FakeTelegramAPI, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "telegram"):  # the CLI quietens them; a test may have run it
        caplog.set_level(logging.DEBUG, logger=name)
    api.fail_next("sendMessage", 502, chat_id=1050)  # an error path logs too
    async with bot_running(api, db):
        await TgUser(api, 1050).say("/start")
    messages = [r.getMessage() for r in caplog.records]
    assert any("HTTP Request" in m and "<redacted>" in m for m in messages), "httpx logged URLs"
    secret_part = TOKEN.split(":", 1)[1]
    assert secret_part not in caplog.text
    assert all(secret_part not in m for m in messages)
