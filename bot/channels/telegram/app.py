"""The PTB ``Application`` wired to our engine, and its lifecycle (polling or webhook).

PTB is only the transport: one ``TypeHandler(Update)`` turns every update into
an ``Incoming``, runs ``Engine.handle`` (one transaction) and sends the reply
with ``TelegramChannel.send_reply``. Different people are handled concurrently;
one person's updates run in the order they came (``PerPersonOrder``), and the
engine's row lock keeps that true across processes.

While the database is down an update is held (``Engine.handle``): by polling
until it is handled; by webhook for ``webhook_hold_seconds``, then the route
answers 503 (it is in ``UpdateBridge.unstored``) and Telegram redelivers.
Polling has confirmed an update by the next ``getUpdates``, so from the moment
the engine holds one, every update not yet handled is also on disk under
``data_dir`` (``held.py``: the update queue shows it each update, the engine's
``on_held`` says when an outage begins); the next start handles what a stop or
a kill -9 left there.

After a reply: a 403 (or "chat not found") marks the identity blocked; a
``my_chat_member`` update saying the person blocked the bot does the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from typing import Any

from telegram import BotCommand, CallbackQuery, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import Application, ApplicationBuilder, BaseUpdateProcessor, TypeHandler

from bot.channels.base import DeliveryError, RecipientBlocked
from bot.channels.media_store import MediaFetcher
from bot.channels.ordering import KeyedLocks
from bot.channels.telegram.adapter import CHANNEL, to_incoming
from bot.channels.telegram.channel import TelegramChannel
from bot.channels.telegram.held import HeldSpool, SpoolingQueue
from bot.channels.telegram.media import telegram_fetcher
from bot.channels.telegram.transport import AiohttpRequest, UpdatesRequest
from bot.config import Settings
from bot.errors import UserError
from bot.health import Backoff, describe
from bot.redact import install_redaction
from db.members import mark_blocked
from db.outage import is_outage
from db.session import UnitOfWork
from handlers.engine import Engine, StoreUnavailable
from handlers.i18n import DEFAULT_LANGUAGE, LANGUAGES, _, current_language, set_language
from handlers.types import Incoming, Reply

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]
SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{32,256}")  # at least 32: not guessable
COMMAND_PATTERN = re.compile(r"[a-z0-9_]{1,32}")
STARTUP_RETRY_MAX_SECONDS = 60.0


def check_settings(settings: Settings, *, webhook_url: str | None = None) -> str:
    """The token, or a ``UserError`` saying in one line what is missing or wrong."""
    if settings.telegram_token is None or not settings.telegram_token.get_secret_value():
        raise UserError(
            _("ANTT_TELEGRAM_TOKEN is not set: create a bot with @BotFather and set it.")
        )
    if webhook_url is not None:
        if not webhook_url.startswith("https://"):
            raise UserError(_("The webhook URL must start with https://"))
        secret = settings.telegram_webhook_secret
        if secret is None or not secret.get_secret_value():
            raise UserError(_("Webhook mode needs ANTT_TELEGRAM_WEBHOOK_SECRET."))
        if not SECRET_PATTERN.fullmatch(secret.get_secret_value()):
            raise UserError(
                _(
                    "ANTT_TELEGRAM_WEBHOOK_SECRET must be 32 to 256 characters: "
                    "letters, digits, _ and -."
                )
            )
    return settings.telegram_token.get_secret_value()


def _person_key(update: object) -> str | None:
    if not isinstance(update, Update):
        return None
    user = update.effective_user
    return str(user.id) if user is not None else None


class PerPersonOrder(BaseUpdateProcessor):
    """Up to ``max_concurrent_updates`` at once, but one person's updates one after another.

    Locks are taken in arrival order (asyncio locks are fair), so two quick taps
    by one person reach the engine in the order Telegram numbered them.
    """

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._locks = KeyedLocks()

    async def do_process_update(self, update: object, coroutine: Any) -> None:
        key = _person_key(update)
        if key is None:
            await coroutine
            return
        async with self._locks.hold(key):
            await coroutine

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None


class UpdateBridge:
    """Update -> Incoming -> Engine -> reply; the one handler of the Application."""

    def __init__(
        self, engine: Engine, channel: TelegramChannel, *, patience: float | None = None
    ) -> None:
        self.engine = engine
        self.channel = channel
        self.patience = patience  # None: hold an update until handled (polling)
        self.unstored: dict[int, Update] = {}  # webhook: given up on (the database was down)
        self.in_flight = 0
        self.media: MediaFetcher | None = None  # set when ANTT_STORE_MEDIA=1
        self.spool: HeldSpool | None = None  # polling: the updates in hand, on disk in an outage

    async def on_update(self, update: Update, context: Any) -> None:
        if self.spool is None:
            await self._on_update(update)
            return
        kept = True  # not handled (cancelled): its file stays for the next start
        try:
            kept = await self._on_update(update)
        except Exception as exc:
            kept = is_outage(exc)
            raise
        finally:
            self.spool.settled(update, keep=kept)

    async def _on_update(self, update: Update) -> bool:
        """Handle ``update``; True when it was not (the database was down), so must be kept."""
        if update.my_chat_member is not None:
            await self._on_membership(update)
            return False
        inp = to_incoming(update)
        query = update.callback_query
        if inp is None:
            if query is not None:
                await self._answer(query)
            return False
        self.in_flight += 1
        try:
            reply = await self.engine.handle(
                inp,
                patience=self.patience,
                on_hold=lambda busy: self._deliver(inp, busy),
                on_held=None if self.spool is None else self.spool.outage_began,
            )
        except StoreUnavailable:
            if self.spool is None:
                self.unstored[update.update_id] = update  # the webhook answers 503
            return True  # the button's spinner keeps turning: the tap comes back
        except BaseException:
            if query is not None:  # stop the button's spinner even so
                await self._answer(query)
            raise
        finally:
            self.in_flight -= 1
        if self.media is not None:
            self.media.kick()  # files of a tip or check-in this update may have saved
        if not reply and inp.update_id is not None:
            return False  # already handled (a redelivery): its answer went out the first time
        if query is not None:
            # Answered beside the reply, so the button's spinner stops at once.
            await asyncio.gather(self._answer(query), self._deliver(inp, reply))
        else:
            await self._deliver(inp, reply)
        return False

    async def _deliver(self, inp: Incoming, reply: Reply) -> None:
        if not reply:
            return
        used_keyboard = inp.location is not None or inp.contact_phone is not None
        try:
            await self.channel.send_reply(
                inp.chat_id, reply, remove_keyboard=used_keyboard, pressed=inp.message_id
            )
        except RecipientBlocked as exc:
            # No user id at the default level: with its time it could be lined up with a tip's.
            log.info("a telegram user is unreachable (%s)", exc)
            await self._mark_blocked(inp.user_id)
        except DeliveryError as exc:
            log.warning("a reply on telegram was not delivered: %s", exc)

    async def _answer(self, query: CallbackQuery) -> None:
        try:
            await self.channel.answer_button(query.id)
        except DeliveryError as exc:  # too old, or already answered: nothing to do
            log.debug("callback query %s not answered: %s", query.id, exc)

    async def _on_membership(self, update: Update) -> None:
        change = update.my_chat_member
        assert change is not None
        if change.chat.type != ChatType.PRIVATE:
            return
        if change.new_chat_member.status in (ChatMemberStatus.BANNED, ChatMemberStatus.LEFT):
            await self._mark_blocked(str(change.from_user.id))

    async def _mark_blocked(self, user_id: str) -> None:
        async with UnitOfWork(self.engine.db) as uow:
            if await mark_blocked(uow.session, CHANNEL, user_id):
                await uow.commit()

    async def on_error(self, update: object, context: Any) -> None:
        log.error("telegram update failed: %r", context.error, exc_info=context.error)


def sending_request(settings: Settings) -> AiohttpRequest:
    """The HTTP client for every Bot API call but getUpdates.

    At least a connection per outbox message in flight: with fewer, requests whose
    rate-limit token was granted would queue inside the client and go in bursts.
    """
    return AiohttpRequest(
        pool_size=max(settings.telegram_pool_size, settings.outbox_in_flight),
        connect_timeout=5.0,
        read_timeout=10.0,
        write_timeout=10.0,
        pool_timeout=10.0,
    )


def build_application(
    settings: Settings, engine: Engine, *, polling: bool = True
) -> tuple[Application, UpdateBridge]:  # type: ignore[type-arg]
    """The PTB Application (not yet initialised) with our single handler."""
    token = check_settings(settings)
    install_redaction(token)
    builder = ApplicationBuilder().token(token)
    if settings.telegram_api_url:
        root = settings.telegram_api_url.rstrip("/")
        builder = builder.base_url(f"{root}/bot").base_file_url(f"{root}/file/bot")
    builder = (
        builder.request(sending_request(settings))
        .get_updates_request(UpdatesRequest(pool_size=1))
        .concurrent_updates(PerPersonOrder(settings.telegram_concurrency))
        .job_queue(None)  # type: ignore[arg-type]  # time triggers live in scheduler/
    )
    spool = None
    if polling:
        spool = HeldSpool(settings.data_dir, outage=lambda: engine.holding)
        builder = builder.update_queue(SpoolingQueue(spool))
    else:
        builder = builder.updater(None)
    application = builder.build()
    patience = None if polling else settings.webhook_hold_seconds
    channel = TelegramChannel(application.bot, paid_broadcast=settings.telegram_paid_broadcast)
    bridge = UpdateBridge(engine, channel, patience=patience)
    bridge.spool = spool
    if settings.store_media:
        bridge.media = telegram_fetcher(engine.db, application.bot, settings.data_dir)
    application.add_handler(TypeHandler(Update, bridge.on_update))
    application.add_error_handler(bridge.on_error)
    return application, bridge


def bot_commands() -> list[BotCommand]:
    """The command menu in the current language: the global commands, then registered ones."""
    from handlers.flow import registry
    from handlers.start import COMMAND_HELP

    described = {
        "start": _("Start over: welcome and main menu"),
        "menu": _("The main menu"),
        "help": _("How to use the bot"),
        "lang": _("Change the language"),
        "me": _("Your name, unit and roles"),
        "cancel": _("Stop what you are doing"),
    }
    for name in sorted(registry.commands):
        describe = COMMAND_HELP.get(name)
        if name not in described and describe is not None:
            described[name] = describe()
    return [
        BotCommand(name, text[:256])
        for name, text in described.items()
        if COMMAND_PATTERN.fullmatch(name) and text.strip()
    ]


async def publish_commands(application: Application) -> None:  # type: ignore[type-arg]
    """setMyCommands in every language (and the default one); a failure is only logged."""
    previous = current_language()
    try:
        for lang in (None, *LANGUAGES):
            set_language(lang or DEFAULT_LANGUAGE)
            await application.bot.set_my_commands(bot_commands(), language_code=lang)
    except TelegramError as exc:
        log.warning("could not set the bot's commands: %s", exc)
    finally:
        set_language(previous)


class TelegramService:
    """The Telegram side of a running bot: polling, or a webhook on our web server."""

    def __init__(self, settings: Settings, engine: Engine, *, webhook_url: str | None = None):
        check_settings(settings, webhook_url=webhook_url)
        self.settings = settings
        self.webhook_url = webhook_url
        self.application, self.bridge = build_application(
            settings, engine, polling=webhook_url is None
        )
        self.channel = self.bridge.channel
        self._started = False

    def mount(self, web_app: Any) -> None:
        """Add the webhook route to our aiohttp app (before it starts); no-op when polling."""
        if self.webhook_url is None:
            return
        from bot.channels.telegram.webhook import add_webhook_route

        secret = self.settings.telegram_webhook_secret
        assert secret is not None
        add_webhook_route(
            web_app,
            self.application,
            secret=secret.get_secret_value(),
            path=self.settings.telegram_webhook_path,
            unstored=self.bridge.unstored,
        )

    async def start(self) -> None:
        app = self.application
        await self._initialize()
        self._started = True
        await publish_commands(app)
        await app.start()
        if self.bridge.media is not None:
            self.bridge.media.kick()  # what an earlier run left undownloaded
        if self.webhook_url is None:
            assert app.updater is not None and self.bridge.spool is not None
            for update in self.bridge.spool.replay(app.bot):
                log.info("telegram: handling update %s kept by the last run", update.update_id)
                await app.update_queue.put(update)
            await app.updater.start_polling(
                poll_interval=0.0, timeout=10, allowed_updates=ALLOWED_UPDATES
            )
            log.info("telegram: polling as @%s", app.bot.username)
        else:
            secret = self.settings.telegram_webhook_secret
            assert secret is not None
            await app.bot.set_webhook(
                self.webhook_url,
                secret_token=secret.get_secret_value(),
                allowed_updates=ALLOWED_UPDATES,
                max_connections=min(100, max(1, self.settings.telegram_concurrency)),
            )
            log.info("telegram: webhook set to %s as @%s", self.webhook_url, app.bot.username)

    async def stop(self) -> None:
        if not self._started:
            return
        app = self.application
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
            await self._settle()
        spool = self.bridge.spool
        if spool is not None:
            spool.keep_all()  # on disk before the last ones are tried (or the stop is cut)
        if self.bridge.media is not None:
            await self.bridge.media.close()
        if app.running:
            await app.stop()  # what is still queued: handled, or kept (the engine is closed)
        await app.shutdown()
        if spool is not None and spool.kept:
            log.warning("telegram: %d update(s) not handled, kept for the next start", spool.kept)
        self._started = False

    async def _initialize(self) -> None:
        """``getMe`` until the Bot API answers: one line per failure, then a longer pause."""
        root = (self.settings.telegram_api_url or "https://api.telegram.org").rstrip("/")
        backoff = Backoff(first=1.0, cap=STARTUP_RETRY_MAX_SECONDS)
        while True:
            try:
                await self.application.initialize()
                return
            except InvalidToken as exc:  # no point in trying again
                message = _(
                    "The Telegram Bot API at {url} refused the token: check "
                    "ANTT_TELEGRAM_TOKEN and ANTT_TELEGRAM_API_URL."
                )
                raise UserError(message.format(url=root)) from exc
            except NetworkError as exc:  # unreachable, timed out, 5xx (not a bad token)
                delay = backoff.next()
                log.error(
                    "Telegram Bot API at %s unreachable (%s); trying again in %.0f s",
                    root,
                    describe(exc),
                    delay,
                )
                await asyncio.sleep(delay)

    async def _settle(self, seconds: float = 5.0) -> None:
        """Wait (a little) for updates in flight: a held one gives up once the engine closes."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while self.bridge.in_flight:  # noqa: ASYNC110 (a counter, no event to wait on)
                    await asyncio.sleep(0.02)
