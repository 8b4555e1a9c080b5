"""Sending to Zalo: ``bot.channels.base.Channel`` over ``ZaloClient``.

After a reply or a proactive message goes out, the choices it ended with are
remembered for the chat (``db.shown_choices``), so the number typed next is read
against what the person sees. Zalo documents no rate limit: 429 and 5xx are
retried with backoff (a reply) or left to the outbox sender (``send``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bot.channels.base import (
    DeliveryError,
    PermanentError,
    RateLimited,
    RecipientBlocked,
    TransientError,
)
from bot.channels.zalo.adapter import CHANNEL
from bot.channels.zalo.client import ZaloClient, ZaloError
from bot.channels.zalo.render import ZaloCall, render_reply
from db.models import utcnow
from db.session import Database, UnitOfWork
from db.shown_choices import remember
from handlers.types import Choice, Message

log = logging.getLogger(__name__)
GONE = ("not found", "blocked", "not exist", "unfollow")


def map_error(exc: ZaloError) -> DeliveryError:
    message = str(exc)
    if exc.status == 429:
        return RateLimited(1.0, message)
    if exc.status == 0 or exc.status >= 500 or exc.status == 408:
        return TransientError(message)
    if exc.status == 403 or any(gone in exc.description.lower() for gone in GONE):
        return RecipientBlocked(message)
    return PermanentError(message)


class ZaloChannel:
    """The Zalo side of ``bot.channels.base.Channel``."""

    name = CHANNEL

    def __init__(
        self,
        client: ZaloClient,
        db: Database,
        *,
        tries: int = 3,
        backoff: float = 0.5,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.client = client
        self.db = db
        self.tries = tries
        self.backoff = backoff
        self._sleep = sleep

    async def send(self, chat_id: str, messages: list[Message]) -> None:
        """Deliver in order, once each; the first failure raises a ``DeliveryError``."""
        calls, shown = render_reply(messages)
        for call in calls:
            await self._perform(chat_id, call)
        await self._remember(chat_id, shown)

    async def show(self, chat_id: str, message: Message, replace: str | None = None) -> str:
        """Zalo cannot edit a message: the new state goes out as a new message."""
        await self.send(chat_id, [message])
        return replace or "zalo"

    async def send_reply(self, chat_id: str, messages: list[Message]) -> None:
        """Deliver an answer, retrying each call on 429, 5xx and network errors."""
        calls, shown = render_reply(messages)
        for call in calls:
            for attempt in range(1, self.tries + 1):
                try:
                    await self._perform(chat_id, call)
                    break
                except (TransientError, RateLimited) as exc:
                    if attempt == self.tries:
                        raise
                    delay = self.backoff * 2 ** (attempt - 1)
                    log.warning("zalo %s failed (%s); retry in %.1f s", call.method, exc, delay)
                    await self._sleep(delay)
        await self._remember(chat_id, shown)

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
