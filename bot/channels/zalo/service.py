"""Zalo's updates into the engine: long polling, or a webhook on our aiohttp server.

Polling (for trying the bot out: Zalo's documentation says so, and events can
be missed): ``getUpdates`` hands out one update per call (error 408 when there
was none). Each update becomes a task; one person's updates run one after
another (in arrival order), different people's concurrently. A typed number or
label answering a numbered list becomes that choice (``db.shown_choices``).

Webhook (production): ``setWebhook`` with ``ANTT_ZALO_WEBHOOK_SECRET``; a call
without the right ``X-Bot-Api-Secret-Token`` gets 401 and is not read, a body
that is not a Zalo update 400. A good update is handled before the answer, so a
200 means it was (redeliveries are skipped by message id); one the database
could not take (an outage, ``webhook_hold_seconds``) gets 503. Polling holds it
until handled.

While the engine works on a message for longer than ``TYPING_AFTER`` seconds the
person sees "typing…". Photos and voice messages people send are downloaded
into the data dir (``bot.channels.media_store``): Zalo's URLs expire.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hmac
import logging
import re
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from bot.channels.base import DeliveryError, RecipientBlocked
from bot.channels.media_store import MediaFetcher
from bot.channels.ordering import KeyedLocks
from bot.channels.zalo.adapter import CHANNEL, BadUpdate, to_incoming, unwrap
from bot.channels.zalo.channel import ZaloChannel
from bot.channels.zalo.client import DEFAULT_API_URL, ZaloClient, ZaloError
from bot.config import Settings
from bot.errors import UserError
from bot.health import Backoff
from bot.media_links import mount_media, public_links
from db.members import mark_blocked
from db.models import Attachment
from db.outage import is_outage
from db.session import UnitOfWork
from db.shown_choices import answer
from handlers.engine import Engine, StoreUnavailable
from handlers.i18n import _
from handlers.types import Incoming, MediaRef, Reply

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Bot-Api-Secret-Token"
SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,256}")
POLL_SECONDS = 30
TYPING_AFTER = 1.0  # seconds of engine work before "typing…" is shown


def zalo_token(settings: Settings) -> str:
    """The token without stray whitespace (a trailing newline makes Zalo answer 404)."""
    token = settings.zalo_token.get_secret_value().strip() if settings.zalo_token else ""
    if not token:
        raise UserError(_("ANTT_ZALO_TOKEN is not set."))
    return token


def check_zalo_settings(settings: Settings, *, webhook_url: str | None = None) -> str:
    """The token, or a ``UserError`` saying in one line what is missing or wrong."""
    token = zalo_token(settings)
    if webhook_url is not None:
        if not webhook_url.startswith("https://"):
            raise UserError(_("The webhook URL must start with https://"))
        secret = settings.zalo_webhook_secret
        if secret is None or not SECRET_PATTERN.fullmatch(secret.get_secret_value()):
            raise UserError(
                _("ANTT_ZALO_WEBHOOK_SECRET must be 8 to 256 characters: letters, digits, _ and -.")
            )
    return token


def with_public_url(settings: Settings, webhook_url: str | None) -> Settings:
    """``settings`` whose ``public_url`` defaults to the origin of the webhook URL."""
    if settings.public_url or not webhook_url:
        return settings
    parts = urlsplit(webhook_url)
    return settings.model_copy(update={"public_url": f"{parts.scheme}://{parts.netloc}"})


class ZaloService:
    """The Zalo bot of one process."""

    def __init__(self, settings: Settings, engine: Engine, *, webhook_url: str | None = None):
        self._token = check_zalo_settings(settings, webhook_url=webhook_url)
        self.settings = with_public_url(settings, webhook_url)
        self.engine = engine
        self.webhook_url = webhook_url
        self.client = ZaloClient(self._token, settings.zalo_api_url or DEFAULT_API_URL)
        self.channel = ZaloChannel(self.client, engine.db, link=public_links(self.settings))
        self.media = MediaFetcher(engine.db, CHANNEL, self._download, settings.data_dir)
        self.typing_after = TYPING_AFTER
        self._poller: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[bool]] = set()
        self._locks = KeyedLocks()

    def mount(self, web_app: web.Application) -> None:
        if self.webhook_url:
            web_app.router.add_post(self.settings.zalo_webhook_path, self._receive)
        if self.settings.public_url:
            mount_media(web_app, self.settings)

    async def start(self) -> None:
        from bot.redact import install_redaction

        install_redaction(self._token)
        await self.client.start()
        self.media.kick()  # what an earlier run could not fetch
        me = await self._get_me()
        if self.webhook_url:
            assert self.settings.zalo_webhook_secret is not None
            await self.client.call(
                "setWebhook",
                url=self.webhook_url,
                secret_token=self.settings.zalo_webhook_secret.get_secret_value(),
            )
            log.info("zalo: webhook set for %s", (me or {}).get("account_name", "?"))
        else:
            await self.client.call("deleteWebhook")
            self._poller = asyncio.create_task(self._poll(), name="zalo-poll")
            log.info("zalo: polling as %s", (me or {}).get("account_name", "?"))

    async def _get_me(self) -> Any:
        """``getMe`` until the Zalo Bot API answers (unreachable: one line, then again)."""
        url = self.settings.zalo_api_url or DEFAULT_API_URL
        backoff = Backoff(first=1.0, cap=60.0)
        while True:
            try:
                return await self.client.call("getMe")
            except ZaloError as exc:
                if exc.status not in (0, 408) and exc.status < 500:
                    raise
                delay = backoff.next()
                log.error(
                    "Zalo Bot API at %s unreachable (%s); trying again in %.0f s", url, exc, delay
                )
                await asyncio.sleep(delay)

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.media.close()
        await self.client.close()

    async def _download(self, row: Attachment) -> bytes:
        """A file people sent, from Zalo's URL (no token needed)."""
        return await self.channel.fetch(MediaRef(row.kind, row.file_id))  # type: ignore[arg-type]

    # --- updates in ---------------------------------------------------------------------

    async def _poll(self) -> None:
        failures = 0
        while True:
            try:
                update = await self.client.call(
                    "getUpdates", timeout=str(POLL_SECONDS), wait=POLL_SECONDS + 10
                )
                failures = 0
            except Exception as exc:
                if isinstance(exc, ZaloError) and exc.status == 408:  # an empty poll
                    continue
                failures += 1
                delay = min(30.0, 0.5 * 2 ** min(failures, 6))
                log.warning("zalo getUpdates failed (%s); again in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                continue
            body = unwrap(update)
            if body is not None:
                task = asyncio.create_task(self.handle(body))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _receive(self, request: web.Request) -> web.Response:
        secret = self.settings.zalo_webhook_secret
        expected = secret.get_secret_value().encode() if secret else b""
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not expected or not hmac.compare_digest(given, expected):
            log.warning("zalo webhook call without the right secret from %s", request.remote)
            return web.json_response({"ok": False, "error": "unauthorized"}, status=401)
        try:
            body = unwrap(await request.json())
            if body is None:
                raise BadUpdate("not a JSON object")
            inp = to_incoming(body)
        except (ValueError, UnicodeDecodeError) as exc:  # BadUpdate is a ValueError
            log.warning("zalo webhook body refused: %s", exc)
            return web.json_response({"ok": False, "error": "bad update"}, status=400)
        if not await self._run(inp, patience=self.settings.webhook_hold_seconds):
            return web.json_response({"ok": False, "error": "try again"}, status=503)
        return web.json_response({"ok": True})

    async def handle(self, update: dict[str, Any], *, patience: float | None = None) -> bool:
        """One update: in order per person, to the engine, the reply out.

        False when the database could not take it within ``patience`` seconds
        (None: hold it until it does).
        """
        try:
            inp = to_incoming(update)
        except BadUpdate as exc:
            log.warning("zalo update ignored: %s", exc)
            return True
        return await self._run(inp, patience=patience)

    async def _run(self, inp: Incoming | None, *, patience: float | None = None) -> bool:
        if inp is None:
            return True
        try:
            async with self._locks.hold(inp.chat_id):
                await self._handle(inp, patience)
        except StoreUnavailable:
            return False
        except Exception:
            log.exception("zalo update %s failed", inp.update_id)
        return True

    async def _think(self, inp: Incoming, patience: float | None) -> Reply:
        """The engine's reply; "typing…" shows if it takes longer than ``typing_after``."""

        async def typing_later() -> None:
            await asyncio.sleep(self.typing_after)
            await self.channel.typing(inp.chat_id)

        async def busy(notice: list[Any]) -> None:
            await self.channel.send_reply(inp.chat_id, notice)

        indicator = asyncio.create_task(typing_later())
        try:
            return await self.engine.handle(inp, patience=patience, on_hold=busy)
        finally:
            indicator.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await indicator

    async def _handle(self, inp: Incoming, patience: float | None) -> None:
        if inp.text is not None and inp.command is None and not inp.media:
            picked = await self._numbered_answer(inp, patience)
            if picked is not None:
                inp = dataclasses.replace(inp, choice=picked, text=None)
        reply = await self._think(inp, patience)
        self.media.kick()  # files of a tip or check-in this update may have saved
        if not reply:
            return  # a redelivery: its answer went out the first time
        try:
            await self.channel.send_reply(inp.chat_id, reply)
        except RecipientBlocked as exc:
            log.info("a zalo user is unreachable (%s)", exc)  # no id: logs stay anonymous
            async with UnitOfWork(self.engine.db) as uow:
                if await mark_blocked(uow.session, CHANNEL, inp.user_id):
                    await uow.commit()
        except DeliveryError as exc:
            log.warning("a reply on zalo was not delivered: %s", exc)

    async def _numbered_answer(self, inp: Incoming, patience: float | None) -> str | None:
        """The choice a typed number or label picks, read once the database answers."""
        assert inp.text is not None
        started = asyncio.get_running_loop().time()
        while True:
            try:
                async with self.engine.db.sessions() as session:
                    return await answer(session, CHANNEL, inp.chat_id, inp.text)
            except Exception as exc:
                if not is_outage(exc):
                    raise
                waited = asyncio.get_running_loop().time() - started
                if self.engine.closed or (patience is not None and waited >= patience):
                    raise StoreUnavailable(str(exc)) from exc
                await asyncio.sleep(0.5)
