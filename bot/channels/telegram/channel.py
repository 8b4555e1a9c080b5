"""``TelegramChannel``: performs the rendered calls and maps Telegram's errors.

``send`` raises the delivery errors of ``bot.channels.base`` and leaves retrying
to its caller (the outbox sender paces a whole bot). ``send_reply``, used for
the answer to an update, retries each call on its own, so a message that went
out is never sent again: on 429 it waits ``retry_after`` (capped), on a network
error or a 5xx it backs off and tries again, three tries in all.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable

from telegram import Bot
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
from bot.channels.telegram.render import Call, edit_call, render_reply
from handlers.types import Message

log = logging.getLogger(__name__)

GONE = ("chat not found", "user not found", "bot was blocked", "user is deactivated")


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
    ) -> None:
        self.bot = bot
        self.tries = tries
        self.backoff = backoff
        self.max_retry_after = max_retry_after
        self._sleep = sleep

    async def send(self, chat_id: str, messages: list[Message]) -> None:
        """Deliver in order; the first failure raises a ``DeliveryError``."""
        for call in render_reply(messages):
            await self._perform(chat_id, call)

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

    async def _perform(self, chat_id: str, call: Call) -> None:
        method = getattr(self.bot, call.method)
        try:
            await method(chat_id=chat_id, **call.kwargs)
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
