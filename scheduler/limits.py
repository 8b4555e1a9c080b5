"""Token buckets and a sliding window that keep the outbox sender under the messengers' limits.

Telegram's documented ceilings: about 30 messages a second per bot, one a
second per chat, 20 a minute per group. Senders of one bot take their tokens one
at a time, in order (``acquire``), each waiting until its token is due, so the
spacing holds in real time. A 429 pauses a whole bot.

A bot's limit ``L`` a second is kept two ways at once:

- **a window**: at most ``floor(L)`` messages in any ``1 + guard`` seconds, counted
  from the times the tokens were granted. This is the ceiling: however the sender
  was held up, no one second (measured by the messenger, whose arrival times
  jitter against ours by up to ``guard``) gets more than ``L``;
- **a pace**: a token bucket of ``L / (1 + guard)`` a second, which spreads the
  messages evenly and may save up ``burst`` seconds of them, so a sender held up
  for a moment (a busy event loop, a late timer, the next batch being claimed)
  catches up instead of losing that time for good; the window caps the catch-up.

So the bot sends at ``L / (1 + guard)`` (98% of the limit) while it has work. Chats
and groups have plain buckets of one token (no bursts).

The buckets live in one process: the outbox has one sender per channel at a
time (:mod:`scheduler.leader`), and a sender taking over learns from the outbox
when each chat last got a message (``sent_before``) and waits out the window.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

Monotonic = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

PRUNE_ABOVE = 10_000  # chat buckets kept before idle ones are dropped
BOT_GUARD = 0.02  # seconds added to the bot's one-second window (arrival jitter)
BOT_BURST = 0.05  # seconds of the bot's pace that a held-up sender may catch up
TICK = 1e-9  # shorter waits are none (a clock cannot always move by less)


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


class SlidingWindow:
    """At most ``count`` grants in any ``span`` seconds (a half-open interval)."""

    def __init__(self, count: int, span: float) -> None:
        self.count = count
        self.span = span
        self._granted: deque[float] = deque(maxlen=count)

    def wait(self, now: float) -> float:
        """Seconds until one more grant fits."""
        if len(self._granted) < self.count:
            return 0.0
        return max(0.0, self._granted[0] + self.span - now)

    def grant(self, now: float) -> None:
        self._granted.append(now)


class BotLimit:
    """A bot's pace and window (see the module's docstring)."""

    def __init__(self, per_second: float, now: float, *, guard: float, burst: float) -> None:
        if per_second <= 0:
            raise ValueError("rate must be positive")
        span = 1.0 + guard
        pace = per_second / span
        self.pace = TokenBucket(pace, now, capacity=max(1.0, pace * burst))
        # below one a second the pace alone keeps the limit
        self.window = SlidingWindow(math.floor(per_second), span) if per_second >= 1 else None

    def wait(self, now: float) -> float:
        return 0.0 if self.window is None else self.window.wait(now)

    def grant(self, now: float) -> None:
        if self.window is not None:
            self.window.grant(now)


def is_group_chat(channel: str, chat_id: str) -> bool:
    """Telegram groups and channels have negative chat ids."""
    return channel == "telegram" and chat_id.startswith("-")


@dataclass(frozen=True)
class Rates:
    bot_per_second: float = 30.0
    chat_per_second: float = 1.0
    group_per_minute: float = 20.0


class Limiter:
    """The limits of every bot, chat and group this process sends to.

    ``guard`` and ``burst`` shape the bots' limits (see the module's docstring);
    chat and group rates are kept exactly as given.
    """

    def __init__(
        self,
        rates: Rates | None = None,
        *,
        monotonic: Monotonic = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        guard: float = BOT_GUARD,
        burst: float = BOT_BURST,
    ) -> None:
        self.rates = rates or Rates()
        self.monotonic = monotonic
        self.sleep = sleep
        self.guard = guard
        self.burst = burst
        self._bots: dict[str, BotLimit] = {}
        self._chats: dict[tuple[str, str], TokenBucket] = {}
        self._paused_until: dict[str, float] = {}
        self._gates: dict[str, asyncio.Lock] = {}

    def _bot(self, channel: str, now: float) -> BotLimit:
        bot = self._bots.get(channel)
        if bot is None:
            bot = self._bots[channel] = BotLimit(
                self.rates.bot_per_second, now, guard=self.guard, burst=self.burst
            )
        return bot

    def _chat(self, channel: str, chat_id: str, now: float) -> TokenBucket:
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
        return chat

    def _prune(self, now: float) -> None:
        for key in [k for k, b in self._chats.items() if b.idle(now)]:
            del self._chats[key]

    def sent_before(self, channel: str, chat_id: str, seconds_ago: float) -> None:
        """A message went to ``chat_id`` ``seconds_ago`` (through another process, or just now)."""
        now = self.monotonic()
        self._chat(channel, chat_id, now).sent_before(now, seconds_ago)

    def pause(self, channel: str, seconds: float) -> None:
        """Send nothing through ``channel`` for ``seconds`` (a 429's ``retry_after``)."""
        until = self.monotonic() + max(0.0, seconds)
        self._paused_until[channel] = max(until, self._paused_until.get(channel, 0.0))

    def paused_for(self, channel: str) -> float:
        return max(0.0, self._paused_until.get(channel, 0.0) - self.monotonic())

    def chat_wait(self, channel: str, chat_id: str) -> float:
        """Seconds before ``chat_id`` may get a message (its own bucket or a paused bot).

        The bot's limit is left out: its queue is bounded by the batch being sent.
        """
        now = self.monotonic()
        return max(self.paused_for(channel), self._chat(channel, chat_id, now).wait_for_one(now))

    async def acquire(self, channel: str, chat_id: str) -> None:
        """Take a token of the bot and of the chat, waiting until both are due.

        Callers go one at a time per bot, each taking its token when its turn
        comes; the bot's window counts the moment each token is granted, after
        any wait, so a burst after a stall stays within the limit.
        """
        gate = self._gates.get(channel)
        if gate is None:
            gate = self._gates[channel] = asyncio.Lock()
        async with gate:
            now = self.monotonic()
            bot = self._bot(channel, now)
            chat = self._chat(channel, chat_id, now)
            delay = max(bot.pace.reserve(now), chat.reserve(now))
            delay = max(delay, bot.wait(now), self.paused_for(channel))
            while delay > TICK:
                await self.sleep(delay)
                now = self.monotonic()
                # a 429 may have come in meanwhile; a late wake-up may meet the window
                delay = max(self.paused_for(channel), bot.wait(now))
            bot.grant(now)
