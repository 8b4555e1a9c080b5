"""Token buckets that keep the outbox sender under the messengers' limits.

Telegram's documented ceilings: about 30 messages a second per bot, one a
second per chat, 20 a minute per group. Each bucket holds one token (no bursts).
Senders of one bot take their tokens one at a time, in order (``acquire``), each
waiting until its token is due, so the spacing holds in real time. A 429 pauses
a whole bot.

The buckets live in one process: the outbox has one sender per channel at a
time (:mod:`scheduler.leader`), and a sender taking over learns from the outbox
when each chat last got a message (``sent_before``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

Monotonic = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

PRUNE_ABOVE = 10_000  # chat buckets kept before idle ones are dropped


class TokenBucket:
    """``rate`` tokens a second, at most ``capacity`` saved up; may go into debt."""

    def __init__(self, rate: float, now: float, capacity: float = 1.0) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.stamp = now

    def _refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def wait_for_one(self, now: float) -> float:
        """Seconds until one token is free, without taking it."""
        self._refill(now)
        return max(0.0, (1.0 - self.tokens) / self.rate)

    def reserve(self, now: float) -> float:
        """Take one token now; the seconds to wait before using it."""
        self._refill(now)
        self.tokens -= 1.0
        return max(0.0, -self.tokens / self.rate)

    def sent_before(self, now: float, seconds_ago: float) -> None:
        """A token was taken ``seconds_ago``: no more saved up now than that allows."""
        self._refill(now)
        self.tokens = min(self.tokens, self.capacity, max(0.0, seconds_ago) * self.rate)

    def idle(self, now: float) -> bool:
        self._refill(now)
        return self.tokens >= self.capacity


def is_group_chat(channel: str, chat_id: str) -> bool:
    """Telegram groups and channels have negative chat ids."""
    return channel == "telegram" and chat_id.startswith("-")


@dataclass(frozen=True)
class Rates:
    bot_per_second: float = 30.0
    chat_per_second: float = 1.0
    group_per_minute: float = 20.0


class Limiter:
    """The buckets of every bot, chat and group this process sends to."""

    def __init__(
        self,
        rates: Rates | None = None,
        *,
        monotonic: Monotonic = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.rates = rates or Rates()
        self.monotonic = monotonic
        self.sleep = sleep
        self._bots: dict[str, TokenBucket] = {}
        self._chats: dict[tuple[str, str], TokenBucket] = {}
        self._paused_until: dict[str, float] = {}
        self._gates: dict[str, asyncio.Lock] = {}

    def _buckets(self, channel: str, chat_id: str, now: float) -> list[TokenBucket]:
        bot = self._bots.get(channel)
        if bot is None:
            bot = self._bots[channel] = TokenBucket(self.rates.bot_per_second, now)
        key = (channel, chat_id)
        chat = self._chats.get(key)
        if chat is None:
            if len(self._chats) >= PRUNE_ABOVE:
                self._prune(now)
            rate = (
                self.rates.group_per_minute / 60.0
                if is_group_chat(channel, chat_id)
                else self.rates.chat_per_second
            )
            chat = self._chats[key] = TokenBucket(rate, now)
        return [bot, chat]

    def _prune(self, now: float) -> None:
        for key in [k for k, b in self._chats.items() if b.idle(now)]:
            del self._chats[key]

    def sent_before(self, channel: str, chat_id: str, seconds_ago: float) -> None:
        """A message went to ``chat_id`` ``seconds_ago`` (through another process)."""
        now = self.monotonic()
        for bucket in self._buckets(channel, chat_id, now):
            bucket.sent_before(now, seconds_ago)

    def pause(self, channel: str, seconds: float) -> None:
        """Send nothing through ``channel`` for ``seconds`` (a 429's ``retry_after``)."""
        until = self.monotonic() + max(0.0, seconds)
        self._paused_until[channel] = max(until, self._paused_until.get(channel, 0.0))

    def paused_for(self, channel: str) -> float:
        return max(0.0, self._paused_until.get(channel, 0.0) - self.monotonic())

    def chat_wait(self, channel: str, chat_id: str) -> float:
        """Seconds before ``chat_id`` may get a message (its own bucket or a paused bot).

        The bot's bucket is left out: its queue is bounded by the batch being sent.
        """
        now = self.monotonic()
        chat = self._buckets(channel, chat_id, now)[1]
        return max(self.paused_for(channel), chat.wait_for_one(now))

    async def acquire(self, channel: str, chat_id: str) -> None:
        """Take a token of the bot and of the chat, waiting until both are due.

        Callers go one at a time per bot, each taking its token when its turn
        comes: the spacing holds in real time even when the event loop was held
        up (reserving ahead would let every waiter that fell due during a stall
        go at once, a burst over the limit).
        """
        gate = self._gates.get(channel)
        if gate is None:
            gate = self._gates[channel] = asyncio.Lock()
        async with gate:
            now = self.monotonic()
            delay = max(b.reserve(now) for b in self._buckets(channel, chat_id, now))
            delay = max(delay, self.paused_for(channel))
            while delay > 0:
                await self.sleep(delay)
                delay = self.paused_for(channel)  # a 429 may have come in meanwhile
