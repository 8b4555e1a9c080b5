"""``TelegramChannel`` over real HTTP against the fake Bot API: rendering that Telegram
accepts, and Telegram's errors mapped to our delivery errors."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import Bot

from bot.channels.base import PermanentError, RateLimited, RecipientBlocked, TransientError
from bot.channels.telegram.channel import TelegramChannel
from handlers.render import bold, esc
from handlers.types import Choice, Message
from tests.fakes.telegram_api import FakeTelegramAPI

CHAT = 777


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as fake:
        yield fake


@pytest.fixture
async def channel(api: FakeTelegramAPI) -> AsyncIterator[TelegramChannel]:
    async with Bot(api.token, base_url=api.base_url, base_file_url=api.base_file_url) as bot:
        yield TelegramChannel(bot, backoff=0.01)


async def test_long_text_is_split_within_4096(
    api: FakeTelegramAPI, channel: TelegramChannel
) -> None:
    line = bold("Mục") + " " + esc("<x> & y ") * 30
    text = "\n".join([line] * 60)
    await channel.send(str(CHAT), [Message(text, choices=[Choice("ok", "OK")])])
    sent = api.sent_messages(CHAT)
    assert len(sent) >= 3
    assert all(len(c.plain_text or "") <= 4096 for c in sent)
    assert sent[-1].callback_data == ["ok"] and all(not c.callback_data for c in sent[:-1])
    assert "".join(c.plain_text or "" for c in sent).count("<x> & y") == 60 * 30
    api.assert_no_violations()


async def test_image_caption_and_keyboards_are_accepted(
    api: FakeTelegramAPI, channel: TelegramChannel
) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 100
    await channel.send(
        str(CHAT),
        [
            Message(bold("Chart"), image=png, choices=[Choice("a", "A"), Choice("b", "B")]),
            Message("x" * 2000, image=png),
            Message("Where?", request="location", choices=[Choice("skip", "Skip")]),
            Message("Thanks", remove_keyboard=True),
        ],
    )
    methods = [c.method for c in api.sent_messages(CHAT)]
    assert methods == [
        "sendPhoto",
        "sendPhoto",
        "sendMessage",
        "sendMessage",
        "sendMessage",
        "sendMessage",
    ]
    assert api.sent_messages(CHAT)[0].files["photo"].data == png
    api.assert_no_violations()


@pytest.mark.parametrize(
    ("status", "description", "error"),
    [
        (403, "Forbidden: bot was blocked by the user", RecipientBlocked),
        (400, "Bad Request: chat not found", RecipientBlocked),
        (400, "Bad Request: can't parse entities", PermanentError),
        (500, "Internal Server Error", TransientError),
        (502, "Bad Gateway", TransientError),
    ],
)
async def test_errors_are_mapped(
    api: FakeTelegramAPI,
    channel: TelegramChannel,
    status: int,
    description: str,
    error: type[Exception],
) -> None:
    api.fail_next("sendMessage", status, description)
    with pytest.raises(error):
        await channel.send(str(CHAT), [Message("hi")])


async def test_429_becomes_rate_limited_with_retry_after(
    api: FakeTelegramAPI, channel: TelegramChannel
) -> None:
    api.fail_next("sendMessage", 429, retry_after=7)
    with pytest.raises(RateLimited) as caught:
        await channel.send(str(CHAT), [Message("hi")])
    assert caught.value.retry_after == 7


async def test_reply_retries_a_call_without_repeating_earlier_ones(
    api: FakeTelegramAPI, channel: TelegramChannel
) -> None:
    api.fail_next("sendMessage", 502, times=2)  # the photo goes out, then the text fails twice
    await channel.send_reply(str(CHAT), [Message("chart", image=b"png"), Message("two")])
    assert [c.method for c in api.sent_messages()] == ["sendPhoto", "sendMessage"]
    assert len(api.failed_calls) == 2


async def test_reply_gives_up_after_three_tries(
    api: FakeTelegramAPI, channel: TelegramChannel
) -> None:
    api.fail_next("sendMessage", 502, times=3)
    with pytest.raises(TransientError):
        await channel.send_reply(str(CHAT), [Message("hi")])
    assert len(api.failed_calls) == 3 and api.sent_messages() == []
