"""``TelegramChannel``: performs the rendered calls and maps Telegram's errors.

``send`` raises the delivery errors of ``bot.channels.base`` and leaves retrying
to its caller (the outbox sender paces a whole bot). ``send_reply``, used for
the answer to an update, retries each call on its own, so a message that went
out is never sent again: on 429 it waits ``retry_after`` (capped), on a network
error or a 5xx it backs off and tries again, three tries in all.

Documents people sent are never shown again by their file id (the original bytes
and name): they are downloaded, cleaned (``bot.media_clean``) and uploaded anew.
One that cannot be (over the 20 MB bots may download, or an image too large to
decode) is left out, and the message says so.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from telegram import Bot, InlineKeyboardMarkup
from telegram.error import (
    BadRequest,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)

from bot.channels.base import (
    DeliveryError,
    PermanentError,
    RateLimited,
    RecipientBlocked,
    TransientError,
)
from bot.channels.telegram.render import Call, edit_call, plain, render_reply
from bot.media_clean import Cleaned, clean_file, neutral_suffix
from handlers.i18n import _
from handlers.types import MediaRef, Message

log = logging.getLogger(__name__)

DOWNLOAD_LIMIT = 20 * 1024 * 1024  # what the Bot API lets a bot download
GONE = ("chat not found", "user not found", "bot was blocked", "user is deactivated")
# Calls whose result ``_perform`` never reads, by their Bot API method.
UNREAD_RESULTS = {"send_message": "sendMessage", "edit_message_text": "editMessageText"}


def retry_after_seconds(exc: RetryAfter) -> float:
    """``retry_after`` in seconds, whatever PTB's int-or-timedelta setting."""
    value = exc._retry_after  # the timedelta behind the (deprecation-warning) property
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


def map_error(exc: TelegramError) -> DeliveryError:
    """Telegram's error as one of our delivery errors."""
    message = str(exc)
    if isinstance(exc, Forbidden):
        return RecipientBlocked(message)
    if isinstance(exc, RetryAfter):
        return RateLimited(retry_after_seconds(exc), message)
    if isinstance(exc, BadRequest):  # before NetworkError: BadRequest is a NetworkError
        if any(gone in message.lower() for gone in GONE):
            return RecipientBlocked(message)
        return PermanentError(message)
    if isinstance(exc, NetworkError):  # includes TimedOut and 5xx
        return TransientError(message)
    return PermanentError(message)


class TelegramChannel:
    """The Telegram side of ``bot.channels.base.Channel``."""

    name = "telegram"

    def __init__(
        self,
        bot: Bot,
        *,
        tries: int = 3,
        backoff: float = 0.5,
        max_retry_after: float = 60.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        paid_broadcast: bool = False,
    ) -> None:
        self.bot = bot
        self.paid_broadcast = paid_broadcast
        self.tries = tries
        self.backoff = backoff
        self.max_retry_after = max_retry_after
        self._sleep = sleep

    async def send(self, chat_id: str, messages: list[Message]) -> None:
        """Deliver in order; the first failure raises a ``DeliveryError``.

        With ``paid_broadcast``, announcements (``Message.bulk``) go with
        ``allow_paid_broadcast``: Telegram then allows up to 1,000 a second, for a fee.
        """
        paid = self.paid_broadcast and any(m.bulk for m in messages)
        for call in render_reply(await self._cleaned(messages)):
            if paid:
                call.kwargs["allow_paid_broadcast"] = True
            await self._perform(chat_id, call)

    async def show(self, chat_id: str, message: Message, replace: str | None = None) -> str:
        """Send one text message, or edit ``replace`` in place (``editMessageText``)."""
        call = render_reply([message])[-1]
        if replace is None:
            try:
                sent = await self.bot.send_message(chat_id=chat_id, **call.kwargs)
            except TelegramError as exc:
                raise map_error(exc) from exc
            return str(sent.message_id)
        kwargs = {k: v for k, v in call.kwargs.items() if k != "reply_markup"}
        if isinstance(call.markup, InlineKeyboardMarkup):
            kwargs["reply_markup"] = call.markup
        try:
            await self.bot.edit_message_text(chat_id=chat_id, message_id=int(replace), **kwargs)
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                raise map_error(exc) from exc
        except TelegramError as exc:
            raise map_error(exc) from exc
        return replace

    async def send_reply(
        self,
        chat_id: str,
        messages: list[Message],
        *,
        remove_keyboard: bool = False,
        pressed: str | None = None,
    ) -> None:
        """Deliver an answer, retrying each call; raises what is left after the retries.

        With ``pressed`` (the message whose button was pressed), a first message marked
        ``replaces`` edits that message instead of coming as a new one; an edit Telegram
        refuses (too old, deleted) falls back to sending.
        """
        messages = await self._cleaned(messages)
        if pressed is not None and messages and messages[0].replaces:
            call = edit_call(messages[0], pressed)
            if call is not None:
                try:
                    await self._perform_with_retry(chat_id, call)
                    messages = messages[1:]
                except PermanentError as exc:
                    if "not modified" in str(exc).lower():
                        messages = messages[1:]  # the same page again: nothing to change
                    else:
                        log.info("edit of message %s refused (%s); sending anew", pressed, exc)
        for call in render_reply(messages, remove_keyboard=remove_keyboard):
            await self._perform_with_retry(chat_id, call)

    async def _cleaned(self, messages: list[Message]) -> list[Message]:
        """The messages with every document people sent replaced by its cleaned copy."""
        if not any(ref.kind == "document" for msg in messages for ref in msg.files):
            return messages
        out: list[Message] = []
        for msg in messages:
            documents = [ref for ref in msg.files if ref.kind == "document"]
            if not documents:
                out.append(msg)
                continue
            others = tuple(ref for ref in msg.files if ref.kind != "document")
            if others:
                out.append(Message("", files=others))
            left_out = 0
            for ref in documents:
                cleaned = await self._clean_document(ref)
                if cleaned is None:
                    left_out += 1
                else:
                    out.append(Message("", document=cleaned.content, document_name=cleaned.name))
            text = msg.text
            if left_out:
                note = _(
                    "{count} document(s) could not be cleaned of their metadata and are not shown."
                ).format(count=left_out)
                text = f"{text}\n{note}" if text else note
            out.append(dataclasses.replace(msg, files=(), text=text))
        return out

    async def fetch(self, ref: MediaRef) -> bytes:
        """A file sent to the bot, by its file id (``getFile``, then the file URL)."""
        content, _path = await self._download(ref)
        return content

    async def _download(self, ref: MediaRef) -> tuple[bytes, str | None]:
        """The file's bytes and Telegram's path for it; over the download limit is refused."""
        if ref.size is not None and ref.size > DOWNLOAD_LIMIT:
            raise PermanentError(f"{ref.size} bytes: more than a bot may download")
        try:
            file = await self.bot.get_file(ref.file_id)
            if file.file_size is not None and file.file_size > DOWNLOAD_LIMIT:
                raise PermanentError(f"{file.file_size} bytes: more than a bot may download")
            return bytes(await file.download_as_bytearray()), file.file_path
        except TelegramError as exc:
            raise map_error(exc) from exc

    async def _clean_document(self, ref: MediaRef) -> Cleaned | None:
        """The document cleaned: by its file id, or from the kept copy of a file that has
        none here (a leaflet given to ``antt broadcast send``)."""
        content, original_name = (None if ref.file_id else self._kept(ref)), ref.name
        if content is None:
            try:
                content, original_name = await self._download(ref)
            except DeliveryError as exc:
                log.warning("a document could not be downloaded for cleaning: %s", exc)
                return None
        label = ref.name or _("Document")
        if suffix := neutral_suffix(label):  # "to-roi.pdf" is named "to-roi" + ".pdf"
            label = label[: -len(suffix)]
        return await asyncio.to_thread(
            clean_file, content, label=label, original_name=original_name
        )

    @staticmethod
    def _kept(ref: MediaRef) -> bytes | None:
        if not ref.stored:
            return None
        try:
            return Path(ref.stored).read_bytes()
        except OSError as exc:
            log.warning("a kept file could not be read: %s", exc)
            return None

    async def answer_button(self, query_id: str) -> None:
        """Stop a pressed button's spinner: ``answerCallbackQuery`` with nothing to show,
        sent as is (PTB's ``CallbackQuery.answer`` goes through its eight optional
        parameters and defaults first, for every tap)."""
        try:
            await self.bot._post("answerCallbackQuery", {"callback_query_id": query_id})
        except TelegramError as exc:
            raise map_error(exc) from exc

    async def _perform(self, chat_id: str, call: Call) -> None:
        endpoint = UNREAD_RESULTS.get(call.method)
        try:
            if endpoint is not None:
                # The same request as ``Bot.send_message`` makes, without turning the
                # Message the API sends back (with its whole keyboard) into PTB objects
                # that nobody reads: a tenth of the bot's CPU per update (issue 17).
                params = {name: plain(value) for name, value in call.kwargs.items()}
                await self.bot._post(endpoint, {"chat_id": chat_id, **params})
            else:
                await getattr(self.bot, call.method)(chat_id=chat_id, **call.kwargs)
        except TelegramError as exc:
            raise map_error(exc) from exc

    async def _perform_with_retry(self, chat_id: str, call: Call) -> None:
        network_failures = 0
        rate_limits = 0
        while True:
            try:
                await self._perform(chat_id, call)
                return
            except RateLimited as exc:
                rate_limits += 1
                if rate_limits >= self.tries or exc.retry_after > self.max_retry_after:
                    raise
                log.info("telegram asks to wait %.1f s before %s", exc.retry_after, call.method)
                await self._sleep(exc.retry_after)
            except TransientError as exc:
                network_failures += 1
                if network_failures >= self.tries:
                    raise
                delay = self.backoff * 2 ** (network_failures - 1)
                log.warning("%s failed (%s); retry in %.1f s", call.method, exc, delay)
                await self._sleep(delay)
