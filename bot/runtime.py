"""A running bot: engine, channels and the web server, built together.

``Runtime(settings, db)`` makes the engine and the aiohttp app; ``add_telegram``
attaches Telegram (polling, or a webhook route on the same app); other
channels (the emulator) add their routes to ``runtime.web_app`` before
``start()``. ``running(settings)`` also opens (and closes) the database::

    async with running(settings, webhook_url=url) as rt:
        await wait_for_stop_signal()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from bot.channels.base import Channel
from bot.config import Settings
from bot.health import Health
from bot.web import WebServer, create_web_app
from db.session import Database
from handlers.engine import Engine

if TYPE_CHECKING:
    from bot.channels.telegram.app import TelegramService
    from bot.channels.zalo.service import ZaloService

log = logging.getLogger(__name__)


class Runtime:
    def __init__(self, settings: Settings, db: Database, *, engine: Engine | None = None):
        self.settings = settings
        self.db = db
        self.engine = engine or Engine(db, settings)
        self.health = Health()
        self.web_app = create_web_app(db, self.health)
        self.web = WebServer(self.web_app, settings.web_host, settings.web_port)
        self.telegram: TelegramService | None = None
        self.zalo: ZaloService | None = None

    def add_telegram(self, *, webhook_url: str | None = None) -> TelegramService:
        from bot.channels.telegram.app import TelegramService

        self.telegram = TelegramService(self.settings, self.engine, webhook_url=webhook_url)
        self.telegram.mount(self.web_app)
        return self.telegram

    def add_zalo(self, *, webhook_url: str | None = None) -> ZaloService:
        from bot.channels.zalo.service import ZaloService

        self.zalo = ZaloService(self.settings, self.engine, webhook_url=webhook_url)
        self.zalo.mount(self.web_app)
        return self.zalo

    def channels(self) -> dict[str, Channel]:
        """The channels that can send, by ``identity.channel`` (for the outbox sender)."""
        found: dict[str, Channel] = {}
        if self.telegram is not None:
            found["telegram"] = self.telegram.channel
        if self.zalo is not None:
            found["zalo"] = self.zalo.channel
        return found

    async def start(self) -> None:
        """The web server first (a webhook must be reachable before it is set)."""
        await self.web.start()
        try:
            if self.telegram is not None:
                await self.telegram.start()
            if self.zalo is not None:
                await self.zalo.start()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """The web server first: webhook calls in flight finish, no new ones come in.

        Updates held by an outage give up at once (the engine closes): a webhook
        answers 503, polling leaves them to be fetched again.
        """
        self.engine.close()
        await self.web.stop()
        for name, service in (("telegram", self.telegram), ("zalo", self.zalo)):
            if service is None:
                continue
            try:
                await service.stop()
            except Exception:
                log.exception("%s did not stop cleanly", name)

    async def __aenter__(self) -> Runtime:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


@contextlib.asynccontextmanager
async def running(
    settings: Settings,
    *,
    db: Database | None = None,
    telegram: bool = True,
    webhook_url: str | None = None,
    zalo: bool = False,
    zalo_webhook_url: str | None = None,
) -> AsyncIterator[Runtime]:
    """A started runtime on ``db`` (or on the configured/embedded database, opened here)."""
    async with contextlib.AsyncExitStack() as stack:
        if db is None:
            from bot.bootstrap import open_database

            db = await stack.enter_async_context(open_database(settings))
        runtime = Runtime(settings, db)
        if telegram:
            runtime.add_telegram(webhook_url=webhook_url)
        if zalo:
            runtime.add_zalo(webhook_url=zalo_webhook_url)
        await stack.enter_async_context(runtime)
        yield runtime


async def wait_for_stop_signal() -> None:
    """Return on SIGINT or SIGTERM (the handlers are removed again afterwards)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
