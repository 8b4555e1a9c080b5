"""Sending to Zalo: ``bot.channels.base.Channel`` over ``ZaloClient``.

After a reply or a proactive message goes out, the choices it ended with are
remembered for the chat (``db.shown_choices``), so the number typed next is read
against what the person sees.

Zalo's error codes mean other things than Telegram's (``map_error``):

====================  ============================  =================================
code                  Zalo's meaning                here
====================  ============================  =================================
403, 5xx, network     internal/server error         ``TransientError``: retried with
                                                    backoff (never "blocked")
429                   quota exceeded                ``QuotaExceeded``: retried with
                                                    growing delays, attempts counted
410, 422              chat id invalid / not         ``RecipientBlocked``: no more
                      permitted to send             sending until they write again
other 4xx             bad request, bad token        ``PermanentError``
====================  ============================  =================================

A reply retries each call here (``tries``, delays ``backoff`` doubling); the
outbox sender retries a row itself (``send``). A photo that cannot be sent is
skipped and never holds back the text that goes with it; one whose ``sendPhoto``
timed out is not sent again (Zalo may have sent it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import aiohttp

from bot.channels.base import (
    DeliveryError,
    PermanentError,
    RecipientBlocked,
    TransientError,
)
from bot.channels.zalo.adapter import CHANNEL
from bot.channels.zalo.client import ZaloClient, ZaloError
from bot.channels.zalo.render import Link, ZaloCall, render_reply
from db.models import utcnow
from db.session import Database, UnitOfWork
from db.shown_choices import remember
from handlers.types import Choice, MediaRef, Message

log = logging.getLogger(__name__)
UNREACHABLE = frozenset({410, 422})
MEDIA_MAX_BYTES = 50 * 1024 * 1024  # a file people sent, kept


class QuotaExceeded(TransientError):
    """Zalo's 429: the bot's quota is used up for now; retried later, attempts counted."""


def map_error(exc: ZaloError) -> DeliveryError:
    """A refused call as what to do about it, by Zalo's meaning of the code."""
    message = str(exc)
    if exc.status == 429:
        return QuotaExceeded(message)
    if exc.status in UNREACHABLE:
        return RecipientBlocked(message)
    if exc.status in (0, 403, 408) or exc.status >= 500:
        return TransientError(message)
    return PermanentError(message)


def _timed_out(exc: DeliveryError) -> bool:
    cause = exc.__cause__
    return isinstance(cause, ZaloError) and cause.status == 0 and "timed out" in cause.description


class ZaloChannel:
    """The Zalo side of ``bot.channels.base.Channel``."""

    name = CHANNEL

    def __init__(
        self,
        client: ZaloClient,
        db: Database,
        *,
        link: Link | None = None,
        tries: int = 3,
        backoff: float = 0.5,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.client = client
        self.db = db
        self.link = link
        self.tries = tries
        self.backoff = backoff
        self._sleep = sleep

    async def send(self, chat_id: str, messages: list[Message]) -> None:
        """Deliver in order, once each; the first failed text raises a ``DeliveryError``."""
        await self._deliver(chat_id, messages, tries=1)

    async def fetch(self, ref: MediaRef) -> bytes:
        """A file people sent, from Zalo's URL (no token needed; the URLs expire)."""
        timeout = aiohttp.ClientTimeout(total=60)
        try:
            async with self.client.session.get(ref.file_id, timeout=timeout) as response:
                response.raise_for_status()
                if (response.content_length or 0) > MEDIA_MAX_BYTES:
                    raise PermanentError(f"{response.content_length} bytes is too large to keep")
                content = await response.content.read(MEDIA_MAX_BYTES + 1)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientError(f"file not fetched: {type(exc).__name__}") from exc
        if len(content) > MEDIA_MAX_BYTES:
            raise PermanentError("too large to keep")
        return content

    async def show(self, chat_id: str, message: Message, replace: str | None = None) -> str:
        """Zalo cannot edit a message: the new state goes out as a new message."""
        await self.send(chat_id, [message])
        return replace or "zalo"

    async def send_reply(self, chat_id: str, messages: list[Message]) -> None:
        """Deliver an answer, retrying each call on 403, 429, 5xx and network errors."""
        await self._deliver(chat_id, messages, tries=self.tries)

    async def typing(self, chat_id: str) -> None:
        """Show "typing…" in the chat; a failure only costs the indicator."""
        try:
            await self.client.call("sendChatAction", chat_id=chat_id, action="typing")
        except ZaloError as exc:
            log.debug("zalo typing indicator not shown: %s", exc)

    async def _deliver(self, chat_id: str, messages: list[Message], *, tries: int) -> None:
        calls, shown = render_reply(messages, self.link)
        for call in calls:
            if call.method == "sendPhoto":
                await self._photo(chat_id, call, tries)
            else:
                await self._with_retries(chat_id, call, tries)
        await self._remember(chat_id, shown)

    async def _photo(self, chat_id: str, call: ZaloCall, tries: int) -> None:
        try:
            await self._with_retries(chat_id, call, tries)
        except RecipientBlocked:
            raise
        except DeliveryError as exc:  # the text after it goes all the same
            log.warning("zalo photo not sent, text goes on: %s", exc)

    async def _with_retries(self, chat_id: str, call: ZaloCall, tries: int) -> None:
        for attempt in range(1, tries + 1):
            try:
                await self._perform(chat_id, call)
                return
            except TransientError as exc:
                if attempt == tries or (call.method == "sendPhoto" and _timed_out(exc)):
                    raise
                delay = self.backoff * 2 ** (attempt - 1)
                log.warning("zalo %s failed (%s); retry in %.1f s", call.method, exc, delay)
                await self._sleep(delay)

    async def _perform(self, chat_id: str, call: ZaloCall) -> None:
        try:
            await self.client.call(call.method, chat_id=chat_id, **call.params)
        except ZaloError as exc:
            raise map_error(exc) from exc

    async def _remember(self, chat_id: str, shown: list[Choice]) -> None:
        async with UnitOfWork(self.db) as uow:
            await remember(
                uow.session, CHANNEL, chat_id, [(c.id, c.label) for c in shown], utcnow()
            )
            await uow.commit()
