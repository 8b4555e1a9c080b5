"""Helpers for end-to-end tests of the Telegram channel against ``FakeTelegramAPI``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from bot.config import Settings
from bot.runtime import Runtime, running
from db.models import Identity
from db.session import Database
from tests.fakes.telegram_api import DEFAULT_TOKEN, ApiCall, FakeTelegramAPI

TOKEN = DEFAULT_TOKEN
SECRET = "e2e-webhook-secret_42-at-least-32-characters"
PUBLIC_URL = "https://bot.example.test/telegram/webhook"


def settings_for(api: FakeTelegramAPI, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "telegram_token": TOKEN,
        "telegram_api_url": api.root_url,
        "telegram_webhook_secret": SECRET,
        "web_host": "127.0.0.1",
        "web_port": 0,
    }
    values.update(overrides)
    return Settings(**values)


@contextlib.asynccontextmanager
async def bot_running(
    api: FakeTelegramAPI, db: Database, *, webhook: bool = False, **overrides: Any
) -> AsyncIterator[Runtime]:
    """Our bot (engine + PTB + web server) on ``db``, talking to ``api``."""
    settings = settings_for(api, **overrides)
    async with running(settings, db=db, webhook_url=PUBLIC_URL if webhook else None) as rt:
        yield rt


async def on_telegram(
    db: Database, member_id: int, user_id: int, *, name: str = "", language: str = "en"
) -> None:
    """Give an existing member a Telegram identity (their private chat with the bot)."""
    async with db.sessions() as s:
        s.add(
            Identity(
                member_id=member_id,
                channel="telegram",
                external_id=str(user_id),
                chat_id=str(user_id),
                display_name=name,
                language=language,
            )
        )
        await s.commit()


def webhook_url(rt: Runtime) -> str:
    return rt.web.url + rt.settings.telegram_webhook_path


async def replies(
    api: FakeTelegramAPI, chat_id: int, since: int, *, quiet: float = 0.15, wait: float = 5
) -> list[ApiCall]:
    """The messages sent to ``chat_id`` after ``since``, once the bot has gone quiet."""
    await api.wait_for(
        lambda c: c.method in ("sendMessage", "sendPhoto", "editMessageText"),
        wait,
        since=since,
        chat_id=chat_id,
    )
    seen = -1
    while seen != api.calls_count:
        seen = api.calls_count
        await asyncio.sleep(quiet)
    return [c for c in api.sent_messages(chat_id) if c.seq >= since]


class TgUser:
    """A person in a private chat with the bot, through the fake Bot API."""

    def __init__(self, api: FakeTelegramAPI, user_id: int, **profile: Any) -> None:
        self.api = api
        self.user_id = user_id
        self.profile = {"first_name": "Lan", "language_code": "en", **profile}
        self.last: list[ApiCall] = []

    async def say(self, text: str) -> list[ApiCall]:
        since = self.api.mark()
        self.api.user_message(self.user_id, text, **self.profile)
        self.last = await replies(self.api, self.user_id, since)
        return self.last

    async def press(self, data: str) -> list[ApiCall]:
        since = self.api.mark()
        self.api.callback(self.user_id, data, **self.profile)
        self.last = await replies(self.api, self.user_id, since)
        return self.last

    @property
    def text(self) -> str:
        return "\n".join(c.plain_text or "" for c in self.last)

    @property
    def buttons(self) -> list[str]:
        return [d for c in self.last for d in c.callback_data]
