"""Tests of the fake Telegram Bot API, driven by the real python-telegram-bot client."""

from __future__ import annotations

import asyncio
import datetime as dtm
import html
import time
import warnings
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import BadRequest, EndPointNotFound, Forbidden, InvalidToken, RetryAfter
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBDeprecationWarning

from tests.fakes.telegram_api import (
    DEFAULT_TOKEN,
    FakeTelegramAPI,
    HtmlParseError,
    UploadedFile,
    parse_telegram_html,
)

TOKEN = DEFAULT_TOKEN
USER = 4242


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI(token=TOKEN) as fake:
        yield fake


@pytest.fixture
async def bot(api: FakeTelegramAPI) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=f"{api.root_url}/bot", base_file_url=api.base_file_url) as b:
        yield b


async def raw_post(api: FakeTelegramAPI, method: str, **kwargs: object) -> tuple[int, dict]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{api.root_url}/bot{api.token}/{method}", **kwargs) as resp,  # type: ignore[arg-type]
    ):
        return resp.status, await resp.json()


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(f"b{i}", callback_data=d)] for i, d in enumerate(data)]
    )


# --- basics -----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_get_me(api: FakeTelegramAPI, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.username == "antt_test_bot"
    assert me.id == int(TOKEN.split(":")[0])
    assert me.is_bot
    # ``async with Bot`` already called getMe once (Bot.initialize).
    assert [c.method for c in api.calls] == ["getMe", "getMe"]
    api.assert_no_violations()


@pytest.mark.asyncio
async def test_wrong_token_is_unauthorized(api: FakeTelegramAPI) -> None:
    other = Bot("1:wrong", base_url=api.base_url)
    with pytest.raises(InvalidToken, match="rejected"):
        await other.initialize()  # calls getMe
    with pytest.raises(InvalidToken, match="Unauthorized"):
        await other.get_me()
    assert api.calls == [] and api.violations == []


@pytest.mark.asyncio
async def test_send_message_with_inline_keyboard_is_recorded(
    api: FakeTelegramAPI, bot: Bot
) -> None:
    first = await bot.send_message(
        USER, "<b>Hello</b> &amp; welcome", parse_mode="HTML", reply_markup=keyboard("yes", "no")
    )
    second = await bot.send_message(USER, "again")

    assert first.text == "Hello & welcome"  # Telegram returns the parsed text
    assert first.entities[0].type == "bold" and first.entities[0].length == 5
    assert first.chat.id == USER and first.chat.type == "private"
    assert first.from_user is not None and first.from_user.username == "antt_test_bot"
    assert first.reply_markup is not None
    assert first.reply_markup.inline_keyboard[1][0].callback_data == "no"
    assert second.message_id > first.message_id

    sent = api.sent_messages(USER)
    assert [c.method for c in sent] == ["sendMessage", "sendMessage"]
    assert sent[0].params["chat_id"] == USER  # decoded from the form body
    assert sent[0].params["reply_markup"]["inline_keyboard"][0][0]["text"] == "b0"
    assert sent[0].callback_data == ["yes", "no"]
    assert sent[0].text == "<b>Hello</b> &amp; welcome"
    assert sent[0].plain_text == "Hello & welcome"
    assert api.sent_messages(USER + 1) == []
    api.assert_no_violations()


@pytest.mark.asyncio
async def test_reply_keyboards_and_json_bodies_are_accepted(api: FakeTelegramAPI, bot: Bot) -> None:
    markup = ReplyKeyboardMarkup(
        [[KeyboardButton("Share", request_contact=True)]], resize_keyboard=True
    )
    await bot.send_message(USER, "share?", reply_markup=markup)
    await bot.send_message(USER, "thanks", reply_markup=ReplyKeyboardRemove())
    status, body = await raw_post(
        api,
        "SENDMESSAGE",  # method names are case-insensitive
        json={
            "chat_id": USER,
            "text": "json",
            "reply_markup": {"inline_keyboard": [[{"text": "x", "url": "https://t.me"}]]},
        },
    )
    assert status == 200 and body["ok"] and body["result"]["text"] == "json"
    assert api.calls[-1].method == "sendMessage"
    assert api.sent_messages()[0].params["reply_markup"]["keyboard"][0][0]["request_contact"]
    api.assert_no_violations()


# --- validation ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_message_over_4096_chars_is_rejected(api: FakeTelegramAPI, bot: Bot) -> None:
    with pytest.raises(BadRequest, match="(?i)too long"):
        await bot.send_message(USER, "x" * 4097)
    assert len(api.violations) == 1 and "4097" in api.violations[0]
    assert api.sent_messages() == []

    api.pop_violations()
    await bot.send_message(USER, "x" * 4096)
    # The limit applies after entity parsing: markup does not count.
    await bot.send_message(USER, "<b>" + "y" * 4096 + "</b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match="(?i)too long"):
        await bot.send_message(USER, "<i>" + "y" * 4097 + "</i>", parse_mode="HTML")
    with pytest.raises(BadRequest, match="(?i)empty"):
        await bot.send_message(USER, "<b> </b>", parse_mode="HTML")
    assert len(api.pop_violations()) == 2
    assert len(api.sent_messages()) == 2


@pytest.mark.asyncio
async def test_caption_over_1024_chars_is_rejected(api: FakeTelegramAPI, bot: Bot) -> None:
    with pytest.raises(BadRequest, match="(?i)caption is too long"):
        await bot.send_photo(USER, b"\xff\xd8jpeg", caption="c" * 1025)
    assert len(api.pop_violations()) == 1
    await bot.send_photo(USER, b"\xff\xd8jpeg", caption="c" * 1024)
    api.assert_no_violations()


@pytest.mark.asyncio
async def test_callback_data_over_64_bytes_is_rejected(api: FakeTelegramAPI, bot: Bot) -> None:
    with pytest.raises(BadRequest, match="(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(USER, "pick", reply_markup=keyboard("đ" * 33))  # 33 chars, 66 bytes
    assert len(api.violations) == 1 and "66 bytes" in api.violations[0]
    api.pop_violations()
    await bot.send_message(USER, "pick", reply_markup=keyboard("đ" * 32))  # exactly 64 bytes
    with pytest.raises(BadRequest, match="(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(USER, "pick", reply_markup=keyboard(""))
    assert len(api.pop_violations()) == 1


@pytest.mark.asyncio
async def test_unknown_method_is_rejected(api: FakeTelegramAPI, bot: Bot) -> None:
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("noSuchMethod")
    status, body = await raw_post(api, "noSuchMethod", data={"a": "1"})
    assert status == 404 and body == {"ok": False, "error_code": 404, "description": "Not Found"}
    assert len(api.violations) == 2 and all("noSuchMethod" in v for v in api.violations)
    assert [c.method for c in api.calls] == ["getMe"]  # from Bot.initialize


@pytest.mark.asyncio
async def test_missing_required_and_unknown_fields_are_rejected(api: FakeTelegramAPI) -> None:
    status, body = await raw_post(api, "sendMessage", json={"chat_id": USER})
    assert status == 400
    assert body["ok"] is False and body["error_code"] == 400
    assert body["description"].startswith("Bad Request:")
    assert "text" in api.violations[-1]

    status, body = await raw_post(
        api, "sendMessage", data={"chat_id": USER, "text": "hi", "parse_mod": "HTML"}
    )
    assert status == 400 and "parse_mod" in body["description"]

    status, body = await raw_post(api, "sendMessage", data={"chat_id": "not-a-chat", "text": "hi"})
    assert status == 400

    status, body = await raw_post(
        api, "sendMessage", data={"chat_id": USER, "text": "hi", "disable_notification": "maybe"}
    )
    assert status == 400 and "Boolean" in body["description"]

    status, body = await raw_post(
        api, "sendMessage", data={"chat_id": USER, "text": "hi", "reply_markup": "{not json"}
    )
    assert status == 400 and "JSON" in body["description"]

    status, body = await raw_post(
        api,
        "sendMessage",
        json={
            "chat_id": USER,
            "text": "hi",
            "reply_markup": {"inline_keyboard": [[{"text": "plain"}]]},
        },
    )
    assert status == 400 and "inline keyboard button" in body["description"]
    assert len(api.violations) == 6
    assert api.calls == []


@pytest.mark.asyncio
async def test_malformed_html_is_rejected_and_escaped_text_passes(
    api: FakeTelegramAPI, bot: Bot
) -> None:
    bad = [
        "<b>x",
        "a < b",
        "Tom & Jerry",
        "<b><i>x</b></i>",
        "line<br>break",
        '<span class="x">s</span>',
    ]
    for text in bad:
        with pytest.raises(BadRequest, match="(?i)parse entities"):
            await bot.send_message(USER, text, parse_mode="HTML")
    assert len(api.pop_violations()) == len(bad)

    user_text = "a < b && <script>alert('x')</script> \"q\""
    message = await bot.send_message(USER, f"<i>{html.escape(user_text)}</i>", parse_mode="HTML")
    assert message.text == user_text
    # Without parse_mode the same characters are plain text.
    await bot.send_message(USER, "a < b & c")
    api.assert_no_violations()


def test_html_parser_entities_and_offsets() -> None:
    text, entities = parse_telegram_html(
        '😀 <b>bold <i>both</i></b> <a href="https://e.x/?a=1&amp;b=2">link</a> &#128512;'
        '<pre><code class="language-python">x = 1</code></pre><tg-spoiler>s</tg-spoiler>'
    )
    assert text == "😀 bold both link 😀x = 1s"
    by_type = {e["type"]: e for e in entities}
    assert by_type["bold"] == {"type": "bold", "offset": 3, "length": 9}  # 😀 is 2 UTF-16 units
    assert by_type["italic"]["offset"] == 8
    assert by_type["text_link"]["url"] == "https://e.x/?a=1&b=2"
    assert by_type["pre"]["language"] == "python"
    assert by_type["spoiler"]["length"] == 1
    for bad in ("<b>", "</b>", "&nbsp;", "<B>x</b", "<unknown>x</unknown>", "<a href='x'>y"):
        with pytest.raises(HtmlParseError):
            parse_telegram_html(bad)
    assert parse_telegram_html("<B>x</b> &gt; &#x41;")[0] == "x > A"


# --- users, polling and callbacks ---------------------------------------------------------


@pytest.mark.asyncio
async def test_application_polling_receives_update_and_replies(api: FakeTelegramAPI) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(
            f"Xin chào {html.escape(update.effective_user.first_name)}, args={context.args}",
            reply_markup=keyboard("menu:report"),
            do_quote=True,
        )

    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("ok")
        await query.edit_message_text(f"chose {query.data}")

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(update.effective_message.text or "?")

    app: Application = api.application_builder().build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(on_button))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))

    api.user_command(USER, "start", "ref42", first_name="An")  # queued before polling starts
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        greeting = await api.wait_for("sendMessage", chat_id=USER)
        assert greeting.params["text"] == "Xin chào An, args=['ref42']"
        assert greeting.params["reply_parameters"]["message_id"] == 1  # reply to the /start

        started = time.monotonic()
        mark = api.mark()
        api.user_message(USER, "hello bot")  # pushed while the bot is long polling
        echo_call = await api.wait_for("sendMessage", since=mark)
        assert echo_call.params["text"] == "hello bot"
        assert time.monotonic() - started < 0.9, "long polling must return promptly on push"

        mark = api.mark()
        api.click(USER, "b0", message_id=greeting.message_id)
        edit = await api.wait_for("editMessageText", since=mark)
        assert edit.params["text"] == "chose menu:report"
        answer = await api.wait_for("answerCallbackQuery", since=mark)
        assert answer.params["text"] == "ok"
        state = api.get_message(USER, greeting.message_id)
        assert state is not None and state["text"] == "chose menu:report"
        assert "reply_markup" not in state  # editing without a markup removes the keyboard
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
    assert {"getMe", "deleteWebhook", "getUpdates"} <= set(api.method_counts)
    api.assert_no_violations()


@pytest.mark.asyncio
async def test_get_updates_offsets_and_long_poll_wakeup() -> None:
    async with FakeTelegramAPI(token=TOKEN, long_poll_cap=5) as api:
        async with Bot(TOKEN, base_url=api.base_url) as b:
            first = api.user_message(USER, "one")
            updates = await b.get_updates(timeout=0)
            assert [u.update_id for u in updates] == [first["update_id"]]
            assert updates[0].message is not None and updates[0].message.text == "one"
            # Not confirmed yet: delivered again; confirmed with offset: gone.
            assert len(await b.get_updates(timeout=0)) == 1
            assert await b.get_updates(offset=first["update_id"] + 1, timeout=0) == ()

            started = time.monotonic()
            poll = asyncio.create_task(b.get_updates(offset=first["update_id"] + 1, timeout=5))
            await asyncio.sleep(0.1)
            assert not poll.done()
            api.callback(USER, "cb:1")
            updates = await asyncio.wait_for(poll, 3)
            assert time.monotonic() - started < 1.5
            assert updates[0].callback_query is not None
            assert updates[0].callback_query.data == "cb:1"
            assert updates[0].callback_query.message is not None
        api.assert_no_violations()


@pytest.mark.asyncio
async def test_user_update_builders_are_valid_updates(api: FakeTelegramAPI, bot: Bot) -> None:
    builders = [
        api.user_message(USER, "hi", username="an"),
        api.user_command(USER, "help"),
        api.user_photo(USER, "ph-1", caption="cap"),
        api.user_location(USER, 21.0278, 105.8342),
        api.user_contact(USER, "+84900000000"),
        api.user_document(USER, "doc-1", "report.pdf"),
        api.user_voice(USER, "voice-1"),
        api.user_video(USER, "vid-1"),
    ]
    updates = await bot.get_updates(timeout=0)
    assert [u.update_id for u in updates] == [b["update_id"] for b in builders]
    msgs = [u.message for u in updates]
    assert all(m is not None and m.chat.id == USER and m.from_user.id == USER for m in msgs)
    assert msgs[1].text == "/help" and msgs[1].entities[0].type == "bot_command"
    assert msgs[2].photo[-1].file_id == "ph-1" and msgs[2].caption == "cap"
    assert msgs[3].location.latitude == pytest.approx(21.0278)
    assert msgs[4].contact.phone_number == "+84900000000" and msgs[4].contact.user_id == USER
    assert msgs[5].document.file_name == "report.pdf"
    assert msgs[6].voice is not None and msgs[6].voice.file_id == "voice-1"
    assert msgs[7].video is not None and msgs[7].video.file_id == "vid-1"
    assert msgs[0].from_user.language_code == "vi"
    data = await (await bot.get_file(msgs[2].photo[-1].file_id)).download_as_bytearray()
    assert bytes(data).startswith(b"\xff\xd8")


@pytest.mark.asyncio
async def test_callback_answer_rules(api: FakeTelegramAPI, bot: Bot) -> None:
    sent = await bot.send_message(USER, "menu", reply_markup=keyboard("a", "b"))
    update = api.click(USER, "b1")
    query = update["callback_query"]
    assert query["data"] == "b" and query["message"]["message_id"] == sent.message_id
    with pytest.raises(LookupError, match="b0"):
        api.click(USER, "nope")
    with pytest.raises(BadRequest, match="(?i)MESSAGE_TOO_LONG"):
        await bot.answer_callback_query(query["id"], text="t" * 201)
    await bot.answer_callback_query(query["id"], text="t" * 200)
    with pytest.raises(BadRequest, match="(?i)query is too old"):
        await bot.answer_callback_query(query["id"])  # answered twice
    assert len(api.pop_violations()) == 2
    assert api.callback_answers[query["id"]]["text"] == "t" * 200


@pytest.mark.asyncio
async def test_edit_and_delete_follow_telegram_rules(api: FakeTelegramAPI, bot: Bot) -> None:
    sent = await bot.send_message(USER, "v1", reply_markup=keyboard("x"))
    edited = await bot.edit_message_text(
        "v2", chat_id=USER, message_id=sent.message_id, reply_markup=keyboard("x")
    )
    assert isinstance(edited, object) and getattr(edited, "text", None) == "v2"
    with pytest.raises(BadRequest, match="(?i)not modified"):
        await bot.edit_message_text(
            "v2", chat_id=USER, message_id=sent.message_id, reply_markup=keyboard("x")
        )
    await bot.edit_message_reply_markup(chat_id=USER, message_id=sent.message_id)
    with pytest.raises(BadRequest, match="(?i)message to edit not found"):
        await bot.edit_message_text("v3", chat_id=USER, message_id=999)
    assert await bot.delete_message(USER, sent.message_id) is True
    with pytest.raises(BadRequest, match="(?i)message to delete not found"):
        await bot.delete_message(USER, sent.message_id)
    assert len(api.pop_violations()) == 3
    assert [c.method for c in api.sent_messages(USER)] == ["sendMessage", "editMessageText"]


# --- failures, files, webhooks ------------------------------------------------------------


@pytest.mark.asyncio
async def test_fail_next_429_surfaces_as_retry_after(api: FakeTelegramAPI, bot: Bot) -> None:
    api.fail_next("sendMessage", 429, retry_after=7)
    with warnings.catch_warnings():  # PTB 22 deprecates the int form of retry_after
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        with pytest.raises(RetryAfter) as info:
            await bot.send_message(USER, "hi")
        retry_after = info.value.retry_after
    if isinstance(retry_after, dtm.timedelta):
        retry_after = retry_after.total_seconds()
    assert retry_after == 7
    await bot.send_message(USER, "hi")  # only the next call fails
    assert len(api.failed_calls) == 1 and api.failed_calls[0].error["parameters"] == {
        "retry_after": 7
    }
    assert len(api.sent_messages()) == 1
    api.assert_no_violations()


@pytest.mark.asyncio
async def test_fail_next_per_chat_and_blocked_users(api: FakeTelegramAPI, bot: Bot) -> None:
    api.fail_next("sendMessage", 403, chat_id=7, times=2)
    api.fail_next("getChat", 500)
    await bot.send_message(8, "other chat works")
    for _ in range(2):
        with pytest.raises(Forbidden, match="blocked"):
            await bot.send_message(7, "x")
    await bot.send_message(7, "third works")
    with pytest.raises(Exception, match="Internal Server Error"):
        await bot.get_chat(7)
    chat = await bot.get_chat(7)
    assert chat.id == 7 and chat.type == "private"

    api.block_bot(9)
    with pytest.raises(Forbidden, match="blocked by the user"):
        await bot.send_message(9, "x")
    updates = await bot.get_updates(timeout=0)
    assert updates[-1].my_chat_member is not None
    assert updates[-1].my_chat_member.new_chat_member.status == "kicked"
    api.assert_no_violations()


@pytest.mark.asyncio
async def test_file_download_and_uploads(api: FakeTelegramAPI, bot: Bot) -> None:
    content = b"\xff\xd8\xff\xe0 fake jpeg bytes"
    path = api.add_file("AgAC-photo-1", content)
    tg_file = await bot.get_file("AgAC-photo-1")
    assert tg_file.file_path is not None and tg_file.file_path.endswith(path)
    assert bytes(await tg_file.download_as_bytearray()) == content

    # Multipart upload: the bytes are recorded and become downloadable.
    message = await bot.send_photo(USER, b"uploaded-bytes", caption="<b>c</b>", parse_mode="HTML")
    call = api.calls[-1]
    assert (
        isinstance(call.params["photo"], UploadedFile)
        and call.params["photo"].data == b"uploaded-bytes"
    )
    assert message.caption == "c"
    new_id = message.photo[-1].file_id
    assert bytes(await (await bot.get_file(new_id)).download_as_bytearray()) == b"uploaded-bytes"

    # Re-sending by file_id works; an unknown file_id is rejected like Telegram does.
    await bot.send_photo(USER, new_id)
    await bot.send_document(USER, b"%PDF-1.4", filename="r.pdf")
    group = await bot.send_media_group(
        USER, [InputMediaPhoto(b"p1"), InputMediaPhoto(b"p2", caption="two")]
    )
    assert len(group) == 2 and group[0].media_group_id == group[1].media_group_id
    api.assert_no_violations()
    with pytest.raises(BadRequest, match="(?i)wrong file identifier"):
        await bot.send_photo(USER, "no-such-file-id")
    assert len(api.pop_violations()) == 1

    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{api.base_file_url}{TOKEN}/photos/missing.jpg") as resp,
    ):
        assert resp.status == 404


@pytest.mark.asyncio
async def test_webhook_registration_and_delivery(api: FakeTelegramAPI, bot: Bot) -> None:
    received: list[tuple[str | None, dict]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(
            (request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json())
        )
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/tg", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        with pytest.raises(BadRequest, match="(?i)HTTPS"):
            await bot.set_webhook("http://example.com/tg")
        api.pop_violations()
        assert await bot.set_webhook("https://bot.example.com/tg", secret_token="s3cret")
        assert api.webhook_url == "https://bot.example.com/tg" and api.webhook_secret == "s3cret"
        info = await bot.get_webhook_info()
        assert info.url == "https://bot.example.com/tg"
        with pytest.raises(Exception, match="webhook is active"):
            await bot.get_updates(timeout=0)
        api.pop_violations()

        update = api.user_message(USER, "via webhook", push=False)
        status = await api.post_webhook(f"http://127.0.0.1:{port}/tg", update)
        assert status == 200
        assert received[0][0] == "s3cret" and received[0][1]["message"]["text"] == "via webhook"
        await api.post_webhook(f"http://127.0.0.1:{port}/tg", update, omit_secret=True)
        assert received[1][0] is None
        assert api.pending_updates == []  # push=False: not queued for getUpdates

        assert await bot.delete_webhook()
        assert api.webhook_url is None
    finally:
        await runner.cleanup()
    api.assert_no_violations()


@pytest.mark.asyncio
async def test_commands_and_chat_actions(api: FakeTelegramAPI, bot: Bot) -> None:
    assert await bot.set_my_commands([("start", "Bắt đầu"), ("report", "Gửi tin báo")])
    assert [c.command for c in await bot.get_my_commands()] == ["start", "report"]
    with pytest.raises(BadRequest, match="(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([("Start-Now", "bad")])
    assert await bot.send_chat_action(USER, "typing")
    assert await bot.log_out() and await bot.close()
    assert len(api.pop_violations()) == 1


@pytest.mark.asyncio
async def test_throughput_and_counters() -> None:
    async with FakeTelegramAPI(token=TOKEN, record_calls=False) as api:
        async with Bot(TOKEN, base_url=api.base_url) as b:
            started = time.monotonic()
            await asyncio.gather(*(b.send_message(i, f"msg {i}") for i in range(1, 301)))
            elapsed = time.monotonic() - started
        assert api.method_counts["sendMessage"] == 300
        assert api.calls_count == 301  # + getMe of Bot.initialize
        assert api.calls == []  # record_calls=False
        assert api.max_in_flight >= 1
        assert elapsed < 10, f"300 requests took {elapsed:.1f}s"
        api.assert_no_violations()


@pytest.mark.asyncio
async def test_wait_for_times_out_with_context(api: FakeTelegramAPI, bot: Bot) -> None:
    await bot.send_message(USER, "only this")
    with pytest.raises(TimeoutError, match="only this"):
        await api.wait_for("sendPhoto", timeout=0.2)
    calls = await api.wait_for(lambda c: c.method == "sendMessage", count=1)
    assert calls.text == "only this"
    later = asyncio.create_task(api.wait_for("sendMessage", count=2, timeout=2))
    await bot.send_message(USER, "second")
    assert [c.text for c in await later] == ["only this", "second"]
