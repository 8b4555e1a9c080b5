"""Tests of the fake Zalo Bot API, driven over real HTTP by a plain aiohttp client."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.fakes.zalo_api import REAL_ERRORS, SECRET_HEADER, FakeZaloAPI, real_payload

TOKEN = "123:abc"
USER = "e4ea2cd5189df1c3a88c"
SECRET = "s3cret-token_42"
HEX_ID = re.compile(r"[0-9a-f]{20}")


@pytest.fixture
async def api() -> AsyncIterator[FakeZaloAPI]:
    async with FakeZaloAPI(token=TOKEN, long_poll_cap=2.0) as fake:
        yield fake


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def call(
    session: aiohttp.ClientSession,
    api: FakeZaloAPI,
    method: str,
    body: Any = None,
    *,
    token: str | None = None,
    verb: str = "POST",
    **kwargs: Any,
) -> tuple[int, dict[str, Any]]:
    """One API request; a JSON ``body`` unless raw ``data=`` is given."""
    url = f"{api.root_url}/bot{token or api.token}/{method}"
    if body is not None:
        kwargs["json"] = body
    async with session.request(verb, url, **kwargs) as resp:
        return resp.status, await resp.json()


# --- basics -------------------------------------------------------------------------------


async def test_get_me(api: FakeZaloAPI, session: aiohttp.ClientSession) -> None:
    status, body = await call(session, api, "getMe", {})
    assert status == 200
    assert body == {
        "ok": True,
        "result": {
            "id": "123",
            "account_name": "antt_test_bot",
            "account_type": "BASIC",
            "can_join_groups": False,
        },
    }
    assert [c.method for c in api.calls_of("getMe")] == ["getMe"]
    api.assert_no_violations()


async def test_root_url_points_at_a_free_local_port(api: FakeZaloAPI) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", api.root_url)
    assert api.port > 0
    assert api.token == TOKEN


# --- getUpdates ---------------------------------------------------------------------------


async def test_get_updates_returns_queued_updates_one_object_at_a_time(
    api: FakeZaloAPI, session: aiohttp.ClientSession
) -> None:
    first = api.user_text(USER, "Xin chào", display_name="Nguyen Van A")
    second = api.user_text(USER, "Tôi muốn báo tin")

    status, body = await call(session, api, "getUpdates", {"timeout": "5"})
    assert status == 200 and body["ok"] is True
    update = body["result"]
    assert isinstance(update, dict)
    assert update == first
    assert update["event_name"] == "message.text.received"
    message = update["message"]
    assert message["text"] == "Xin chào"
    assert HEX_ID.fullmatch(message["message_id"])
    assert abs(message["date"] - time.time() * 1000) < 10_000
    assert message["chat"] == {"id": USER, "chat_type": "PRIVATE"}
    assert message["from"] == {"id": USER, "display_name": "Nguyen Van A", "is_bot": False}

    status, body = await call(session, api, "getUpdates", {"timeout": "5"})
    assert status == 200 and body["result"] == second
    assert body["result"]["message"]["message_id"] != message["message_id"]
    assert api.pending_updates == []
    api.assert_no_violations()


async def test_empty_poll_answers_408_after_the_timeout(
    api: FakeZaloAPI, session: aiohttp.ClientSession
) -> None:
    started = time.monotonic()
    status, body = await call(session, api, "getUpdates", {"timeout": "1"})
    elapsed = time.monotonic() - started
    assert status == 200  # as live Zalo answers it: HTTP 200, ok false, error 408
    assert body == {"ok": False, "error_code": 408, "description": "Request timeout"}
    assert body == real_payload("empty_poll")
    assert 0.9 <= elapsed < 1.8
    assert api.empty_polls == 1
    assert api.violations == [] and api.errors == []


async def test_long_poll_is_capped(session: aiohttp.ClientSession) -> None:
    async with FakeZaloAPI(token=TOKEN, long_poll_cap=0.3) as api:
        started = time.monotonic()
        _, body = await call(session, api, "getUpdates", {"timeout": "30"})
        assert body["error_code"] == 408
        assert 0.25 <= time.monotonic() - started < 1.5


async def test_long_poll_wakes_up_when_a_user_writes(
    api: FakeZaloAPI, session: aiohttp.ClientSession
) -> None:
    poll = asyncio.create_task(call(session, api, "getUpdates", {"timeout": "10"}))
    await asyncio.sleep(0.2)
    assert not poll.done()
    started = time.monotonic()
    api.user_text(USER, "alo")
    status, body = await asyncio.wait_for(poll, 1.0)
    assert status == 200 and body["result"]["message"]["text"] == "alo"
    assert time.monotonic() - started < 0.5


async def test_other_user_events_are_shaped_as_live_zalo_sends_them(api: FakeZaloAPI) -> None:
    def shape(update: dict[str, Any]) -> tuple[str, list[str]]:
        return update["event_name"], sorted(update.get("message", {}))

    image = api.user_image(USER, "https://img.example/1.jpg", caption="Hiện trường", push=False)
    assert image["message"]["photo_url"] == "https://img.example/1.jpg"
    assert image["message"]["caption"] == "Hiện trường"
    assert shape(image) == shape(real_payload("image")["result"])
    assert "photo" not in image["message"] and "text" not in image["message"]
    bare = api.user_image(USER, "https://x/2.jpg", push=False)["message"]
    assert (bare["caption"], bare["message_type"]) == ("", "CHAT_PHOTO")
    documented = api.user_image(USER, "https://x/3.jpg", field="photo", push=False)
    assert documented["message"]["photo"] == "https://x/3.jpg"

    voice = api.user_voice(USER, "https://voice.example/1.aac", push=False)
    assert voice["message"]["voice_url"] == "https://voice.example/1.aac"
    assert shape(voice) == shape(real_payload("voice")["result"])

    sticker = api.user_sticker(USER, "0e078a2fb66a5f34067b", push=False)
    assert sticker["message"]["sticker"] == "0e078a2fb66a5f34067b"
    assert shape(sticker) == shape(real_payload("sticker")["result"])

    other = api.user_unsupported("another-user")
    assert shape(other) == shape(real_payload("unsupported")["result"])
    assert other["message"]["chat"]["id"] == "another-user"
    nobody = api.user_unsupported("ignored", with_message=False)
    assert nobody == real_payload("unsupported_bare")["result"]
    assert api.pending_updates == [other, nobody]
    assert api.known_chats == {USER, "another-user"}


async def test_hosted_media_are_fetched_without_the_token_until_they_expire(
    api: FakeZaloAPI, session: aiohttp.ClientSession
) -> None:
    url = api.host_media(b"\xff\xd8 a photo", ".jpg")
    assert url.startswith(api.root_url + "/media/") and api.token not in url
    async with session.get(url) as resp:
        assert (resp.status, await resp.read()) == (200, b"\xff\xd8 a photo")
    api.expire_media(url)
    async with session.get(url) as resp:
        assert resp.status == 404


async def test_redeliver_repeats_the_same_message(
    api: FakeZaloAPI, session: aiohttp.ClientSession
) -> None:
    update = api.user_text(USER, "một lần")
    _, first = await call(session, api, "getUpdates", {"timeout": "1"})
    api.redeliver(update)
    _, again = await call(session, api, "getUpdates", {"timeout": "1"})
    assert again["result"] == first["result"] == update
    assert again["result"]["message"]["message_id"] == update["message"]["message_id"]


# --- sending ------------------------------------------------------------------------------


async def test_send_message_to_a_known_chat(
    api: FakeZaloAPI, session: aiohttp.ClientSession
) -> None:
    api.user_text(USER, "Xin chào", push=False)
    status, body = await call(session, api, "sendMessage", {"chat_id": USER, "text": "Chào bạn"})
    assert status == 200 and body["ok"] is True
    result = body["result"]
    assert HEX_ID.fullmatch(result["message_id"])
    assert abs(result["date"] - time.time() * 1000) < 10_000

    sent = api.sent_messages(USER)
    assert [(c.method, c.chat_id, c.text) for c in sent] == [("sendMessage", USER, "Chào bạn")]
    assert sent[0].message_id == result["message_id"]
    assert api.sent_messages("someone-else") == []
    found = await api.wait_for("sendMessage", chat_id=USER, timeout=0.5)
    assert found is sent[0]
    api.assert_no_violations()


async def test_wait_for_waits_for_a_later_call_and_honours_marks(
    api: FakeZaloAPI, session: aiohttp.ClientSession
) -> None:
    api.user_text(USER, "hi", push=False)
    await call(session, api, "sendMessage", {"chat_id": USER, "text": "old"})
    mark = api.mark()
    assert api.sent_messages(since=mark) == []

    waiter = asyncio.create_task(api.wait_for(lambda c: c.text == "new", since=mark, timeout=2.0))
    await asyncio.sleep(0.1)
    assert not waiter.done()
    await call(session, api, "sendPhoto", {"chat_id": USER, "photo": api.host_media(b"A")})
    await call(session, api, "sendMessage", {"chat_id": USER, "text": "new"})
    found = await waiter
    assert (found.method, found.text) == ("sendMessage", "new")
    assert [c.method for c in api.sent_messages(USER, since=mark)] == [
        "sendPhoto",
        "sendMessage",
    ]

    with pytest.raises(TimeoutError, match="sendSticker"):
        await api.wait_for("sendSticker", timeout=0.2)


async def test_send_photo_sticker_and_chat_action(
    api: FakeZaloAPI, session: aiohttp.ClientSession
) -> None:
    api.user_text(USER, "hi", push=False)
    photo = {"chat_id": USER, "photo": api.host_media(b"JPEG"), "caption": "Ảnh"}
    assert (await call(session, api, "sendPhoto", photo))[1]["ok"] is True
    assert api.calls_of("sendPhoto")[0].content == b"JPEG"  # fetched before the answer
    assert (await call(session, api, "sendSticker", {"chat_id": USER, "sticker": "abc"}))[0] == 200
    status, body = await call(session, api, "sendChatAction", {"chat_id": USER, "action": "typing"})
    assert (status, body) == (200, {"ok": True})
    assert [(c.method, c.text) for c in api.sent_messages(USER)] == [
        ("sendPhoto", "Ảnh"),
        ("sendSticker", None),
    ]
    assert len(api.calls_of("sendChatAction")) == 1
    api.assert_no_violations()


async def test_sending_to_an_unknown_chat_is_an_error_but_no_violation(
    api: FakeZaloAPI, session: aiohttp.ClientSession
) -> None:
    status, body = await call(session, api, "sendMessage", {"chat_id": "nobody", "text": "hi"})
    assert status == 200
    assert body == real_payload("error_410")
    assert api.violations == []
    assert [(c.method, c.chat_id) for c in api.errors] == [("sendMessage", "nobody")]
    assert api.sent_messages() == []


async def test_a_photo_zalo_cannot_fetch_is_refused_and_nothing_is_sent(
    api: FakeZaloAPI, session: aiohttp.ClientSession
) -> None:
    api.user_text(USER, "hi", push=False)
    url = api.host_media(b"JPEG")
    api.expire_media(url)
    _, body = await call(session, api, "sendPhoto", {"chat_id": USER, "photo": url})
    assert (body["ok"], body["error_code"]) == (False, 400)
    assert api.sent_messages() == [] and api.violations == []
    assert [c.method for c in api.errors] == ["sendPhoto"]


async def test_send_photo_answers_after_the_photo_delay(session: aiohttp.ClientSession) -> None:
    async with FakeZaloAPI(token=TOKEN, photo_delay=0.4) as api:
        api.user_text(USER, "hi", push=False)
        started = time.monotonic()
        photo = {"chat_id": USER, "photo": api.host_media(b"J")}
        assert (await call(session, api, "sendPhoto", photo))[1]["ok"] is True
        assert time.monotonic() - started >= 0.4


# --- violations ---------------------------------------------------------------------------

LONG_TEXT = "a" * 2001


@pytest.mark.parametrize(
    ("method", "body", "kwargs", "status", "fragment"),
    [
        ("sendMessage", {"chat_id": USER, "text": LONG_TEXT}, {}, 400, "got 2001"),
        ("sendMessage", {"chat_id": USER, "text": ""}, {}, 400, "text must be 1-2000"),
        ("sendMessage", {"text": "hi"}, {}, 400, "missing required field 'chat_id'"),
        ("sendMessage", {"chat_id": 42, "text": "hi"}, {}, 400, "chat_id must be a string"),
        (
            "sendMessage",
            {"chat_id": USER, "text": "hi", "parse_mode": "HTML"},
            {},
            400,
            "unknown field(s) 'parse_mode'",
        ),
        ("sendPhoto", {"chat_id": USER, "photo": "https://x", "caption": LONG_TEXT}, {}, 400, ""),
        ("sendPhoto", {"chat_id": USER, "photo": "a.png"}, {}, 400, "photo must be"),
        ("sendChatAction", {"chat_id": USER, "action": "upload_photo"}, {}, 400, "typing"),
        ("getUpdates", {"timeout": 30}, {}, 400, "timeout must be a string"),
        ("sendKeyboard", {"chat_id": USER}, {}, 404, "no method 'sendKeyboard'"),
        ("getMe", {}, {"token": "123:wrong"}, 401, "Unauthorized"),
        ("getMe", None, {"verb": "GET"}, 405, "use POST"),
        ("sendMessage", [USER, "hi"], {}, 400, "must be a JSON object"),
        ("sendMessage", None, {"data": "chat_id=x&text=hi"}, 400, "application/json"),
    ],
)
async def test_bad_requests_are_violations(
    api: FakeZaloAPI,
    session: aiohttp.ClientSession,
    method: str,
    body: Any,
    kwargs: dict[str, Any],
    status: int,
    fragment: str,
) -> None:
    api.user_text(USER, "hi", push=False)
    got_status, answer = await call(session, api, method, body, **kwargs)
    assert got_status == 200  # Zalo refuses with HTTP 200 and ok false
    assert answer["ok"] is False and answer["error_code"] == status
    assert len(api.violations) == 1
    assert api.violations[0].startswith(f"{method}: ")
    assert fragment in api.violations[0]
    assert api.calls == [] and api.errors == []
    with pytest.raises(AssertionError, match="1 Zalo Bot API violation"):
        api.assert_no_violations()


async def test_pop_violations_forgets_them(
    api: FakeZaloAPI, session: aiohttp.ClientSession
) -> None:
    await call(session, api, "sendMessage", {})
    assert len(api.pop_violations()) == 1
    api.assert_no_violations()


# --- webhook ------------------------------------------------------------------------------


async def test_set_webhook_is_validated(api: FakeZaloAPI, session: aiohttp.ClientSession) -> None:
    _, body = await call(
        session, api, "setWebhook", {"url": "http://bot.example/hook", "secret_token": SECRET}
    )
    assert body["error_code"] == 400
    _, body = await call(
        session, api, "setWebhook", {"url": "https://bot.example/hook", "secret_token": "short"}
    )
    assert body["error_code"] == 400
    _, body = await call(session, api, "setWebhook", {"url": "https://bot.example/hook"})
    assert body["error_code"] == 400
    assert len(api.pop_violations()) == 3
    assert api.webhook_url is None


async def test_webhook_lifecycle_and_get_updates_refused_meanwhile(
    api: FakeZaloAPI, session: aiohttp.ClientSession
) -> None:
    hook = {"url": "https://bot.example/zalo", "secret_token": SECRET}
    status, body = await call(session, api, "setWebhook", hook)
    assert status == 200 and body["result"]["url"] == hook["url"]
    assert (api.webhook_url, api.webhook_secret) == (hook["url"], SECRET)

    async with session.post(f"{api.root_url}/bot{TOKEN}/getWebhookInfo", json={}) as resp:
        raw = await resp.text()
    assert resp.status == 200 and hook["url"] in raw and SECRET not in raw

    status, body = await call(session, api, "getUpdates", {"timeout": "0"})
    assert body["error_code"] == 409 and body["ok"] is False
    assert len(api.violations) == 1 and "webhook" in api.violations[0]
    api.pop_violations()

    status, body = await call(session, api, "deleteWebhook", {})
    assert status == 200 and body["result"]["url"] == ""
    assert api.webhook_url is None
    _, info = await call(session, api, "getWebhookInfo")
    assert info["result"]["url"] == ""
    _, body = await call(session, api, "getUpdates", {"timeout": "0"})
    assert body["error_code"] == 408
    api.assert_no_violations()


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[tuple[str | None, Any]]]]:
    """A stand-in for the bot's webhook: records (secret header, JSON body) per request."""
    received: list[tuple[str | None, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        secret = request.headers.get(SECRET_HEADER)
        received.append((secret, await request.json()))
        return web.Response(status=200 if secret == SECRET else 403)

    app = web.Application()
    app.router.add_post("/zalo/webhook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/zalo/webhook", received
    await runner.cleanup()


async def test_post_webhook_bare_wrapped_and_secrets(
    api: FakeZaloAPI,
    session: aiohttp.ClientSession,
    receiver: tuple[str, list[tuple[str | None, Any]]],
) -> None:
    url, received = receiver
    await call(
        session, api, "setWebhook", {"url": "https://bot.example/zalo", "secret_token": SECRET}
    )
    update = api.user_text(USER, "qua webhook", push=False)

    assert await api.post_webhook(url, update) == 200
    assert await api.post_webhook(url, update, wrapped=True) == 200
    assert await api.post_webhook(url, update, secret="") == 403
    assert await api.post_webhook(url, update, secret="wrong-secret") == 403
    assert received == [
        (SECRET, update),
        (SECRET, {"ok": True, "result": update}),
        (None, update),
        ("wrong-secret", update),
    ]
    assert api.pending_updates == []

    status, _ = await call(session, api, "sendMessage", {"chat_id": USER, "text": "đã nhận"})
    assert status == 200  # the webhook user's chat is known
    api.assert_no_violations()


# --- failure injection --------------------------------------------------------------------


async def test_fail_next_answers_zalo_codes_with_http_200_once(
    api: FakeZaloAPI, session: aiohttp.ClientSession
) -> None:
    api.user_text(USER, "hi", push=False)
    api.user_text("other", "hi", push=False)
    api.fail_next("sendMessage", 429)
    api.fail_next("sendMessage", 422, chat_id="other")

    status, body = await call(session, api, "sendMessage", {"chat_id": USER, "text": "1"})
    assert (status, body) == (200, real_payload("error_429"))
    status, _ = await call(session, api, "sendMessage", {"chat_id": USER, "text": "2"})
    assert status == 200
    status, body = await call(session, api, "sendMessage", {"chat_id": "other", "text": "3"})
    assert (status, body) == (200, real_payload("error_422"))
    status, _ = await call(session, api, "sendMessage", {"chat_id": "other", "text": "4"})
    assert status == 200

    assert [(c.params["text"], c.error and c.error["error_code"]) for c in api.failed_calls] == [
        ("1", 429),
        ("3", 422),
    ]
    assert [c.text for c in api.sent_messages()] == ["2", "4"]
    api.assert_no_violations()


@pytest.mark.parametrize("code", [403, 410, 422, 429])
async def test_real_error_codes_read_as_zalo_words_them(
    api: FakeZaloAPI, session: aiohttp.ClientSession, code: int
) -> None:
    api.fail_next("getMe", code)
    status, body = await call(session, api, "getMe", {})
    assert (status, body) == (200, real_payload(f"error_{code}"))
    assert body["description"] == REAL_ERRORS[code]


async def test_fail_next_with_a_gateway_status(
    api: FakeZaloAPI, session: aiohttp.ClientSession
) -> None:
    api.fail_next("getMe", 502, http_status=502)
    status, body = await call(session, api, "getMe", {})
    assert (status, body["error_code"]) == (502, 502)


async def test_fail_next_times_and_any_method(
    api: FakeZaloAPI, session: aiohttp.ClientSession
) -> None:
    api.fail_next("*", 500, times=2)
    assert (await call(session, api, "getMe", {}))[1]["error_code"] == 500
    assert (await call(session, api, "getWebhookInfo", {}))[1]["error_code"] == 500
    assert (await call(session, api, "getMe", {}))[1]["ok"] is True
    assert len(api.failed_calls) == 2
