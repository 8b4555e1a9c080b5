"""``antt scheduler``: the time triggers and the outbox sender alone, without the bot's inputs.

Run as many as you like next to ``antt run`` processes (or on other machines):
every job is idempotent by key and the outbox is claimed with SKIP LOCKED.
With ``--no-send`` it only queues; without a Telegram or Zalo token it only queues too.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from handlers.i18n import _

if TYPE_CHECKING:  # the CLI stays light: settings load only when a command runs
    from bot.channels.base import Channel
    from bot.config import Settings
    from db.session import Database

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "scheduler", help=_("run the reminders, digests and the outbox sender (no updates)")
    )
    parser.add_argument(
        "--no-send", action="store_true", help=_("only fire the jobs; leave sending to others")
    )
    parser.set_defaults(handler=run)


@contextlib.asynccontextmanager
async def sending_channels(settings: Settings, db: Database) -> AsyncIterator[dict[str, Channel]]:
    """The channels this process can send through (Telegram, Zalo: those with a token)."""
    channels: dict[str, Channel] = {}
    async with contextlib.AsyncExitStack() as stack:
        if settings.telegram_token is not None and settings.telegram_token.get_secret_value():
            from telegram import Bot

            from bot.channels.telegram.app import sending_request
            from bot.channels.telegram.channel import TelegramChannel
            from bot.redact import install_redaction

            token = settings.telegram_token.get_secret_value()
            install_redaction(token)
            root = (settings.telegram_api_url or "https://api.telegram.org").rstrip("/")
            # Our aiohttp transport: about a tenth of httpx's CPU per call (README, Performance).
            bot = Bot(
                token,
                base_url=f"{root}/bot",
                base_file_url=f"{root}/file/bot",
                request=sending_request(settings),
            )
            await stack.enter_async_context(bot)
            channels["telegram"] = TelegramChannel(
                bot, paid_broadcast=settings.telegram_paid_broadcast
            )
        if settings.zalo_token is not None and settings.zalo_token.get_secret_value():
            from bot.channels.zalo.channel import ZaloChannel
            from bot.channels.zalo.client import DEFAULT_API_URL, ZaloClient
            from bot.media_links import public_links
            from bot.redact import install_redaction

            token = settings.zalo_token.get_secret_value().strip()
            install_redaction(token)
            client = ZaloClient(token, settings.zalo_api_url or DEFAULT_API_URL)
            await client.start()
            stack.push_async_callback(client.close)
            channels["zalo"] = ZaloChannel(client, db, link=public_links(settings))
        yield channels


async def run(args: argparse.Namespace) -> int:
    from bot.bootstrap import open_database
    from bot.config import get_settings
    from bot.keys import require_strong_key
    from bot.memory import keep_heap_steady
    from bot.runtime import wait_for_stop_signal
    from scheduler.jobs import SchedulerService

    keep_heap_steady()
    settings = get_settings()
    require_strong_key(settings)
    async with open_database(settings) as db, sending_channels(settings, db) as channels:
        if not channels and not args.no_send:
            log.warning("no channel to send through (no Telegram or Zalo token): only queueing")
        service = SchedulerService(db, settings, channels, send=not args.no_send)
        async with service:
            await wait_for_stop_signal()
            log.info("stopping")
    return 0
