"""Token buckets and a window that keep the outbox sender under the messengers' limits.

Telegram's documented ceilings: about 30 messages a second per bot, one a
second per chat, 20 a minute per group. Senders of one bot take their tokens one
at a time, in order (``acquire``), each waiting until its token is due, so the
spacing holds in real time. A 429 pauses a whole bot.

A bot's limit ``L`` a second is kept two ways at once:

- **a window over each message's whole request**: the messenger counts a message
  when it arrives there, which we cannot see; we only know it lies between the
  moment its token was granted and the moment its response came back (the request
  may wait in our client, our event loop, the network or the messenger's own queue
  for any part of that). So a token is granted at time ``t`` only while fewer than
  ``floor(L)`` messages are still in flight or got their response after
  ``t - 1 - guard``. ``acquire`` hands out a :class:`Sending` that the sender ends
  (``done``) when the request has ended, whatever its outcome. Then no one second
  at the messenger, wherever in its interval each message arrived, holds more than
  ``L``: take the messages that arrived in one second and the one among them
  granted last, at ``g``; every other one was granted before ``g`` and answered
  after it arrived, which is after ``g - 1`` (it arrived in the same second as the
  last one, which arrived after ``g``), so each was counted when ``g`` was granted,
  and there were fewer than ``floor(L)`` of them. Responses are kept in the order
  they come (their times only grow), so the count is exact, not an estimate;
- **a pace**: a token bucket of ``L / (1 + guard)`` a second, which spreads the
  messages evenly and may save up ``burst`` seconds of them, so a sender held up
  for a moment (a busy event loop, a late timer, the next batch being claimed)
  catches up instead of losing that time for good; the window caps the catch-up.

The guard no longer stands for arrival jitter (the response bound covers any delay
on the way, however long): it only covers the messenger's clock running at another
rate than ours (an offset between the clocks changes no interval). Clocks kept by
NTP differ in rate by at most 500 ppm, half a millisecond a second, so a guard of
one millisecond is enough. A message is counted for its request's time plus one
second, so a bot sends about ``L / (1 + guard + response time)`` a second while it
has work: 0.99 of the limit with responses in 10 ms. Chats and groups have plain
buckets of one token (no bursts).

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
BOT_GUARD = 0.001  # seconds added to the bot's one-second window (the clocks' rates)
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


class RequestWindow:
    """Fewer than ``count`` requests in flight or answered within ``span`` seconds
    before each grant (see the module's docstring)."""

    def __init__(self, count: int, span: float) -> None:
        self.count = count
        self.span = span
        self.in_flight = 0
        self._answered: deque[float] = deque()  # response times, in the order they came

    def _prune(self, now: float) -> None:
        horizon = now - self.span
        while self._answered and self._answered[0] <= horizon:
            self._answered.popleft()

    def wait(self, now: float) -> float:
        """Seconds until one more grant may fit (at least; look again then)."""
        self._prune(now)
        over = self.in_flight + len(self._answered) - self.count + 1
        if over <= 0:
            return 0.0
        if over > len(self._answered):
            # some of those still in flight must end and then age: a span at least
            return self.span
        return max(0.0, self._answered[over - 1] + self.span - now)

    def grant(self) -> None:
        self.in_flight += 1

    def answered(self, now: float) -> None:
        self.in_flight -= 1
        if self._answered and now < self._answered[-1]:
            now = self._answered[-1]  # a clock that went back: count it longer, not shorter
        self._answered.append(now)


class Sending:
    """A granted message: ``done()`` once its request has ended, whatever its outcome
    (sent, refused, 429, timed out, cancelled or never sent). Only the first call counts."""

    __slots__ = ("_monotonic", "_window")

    def __init__(self, window: RequestWindow | None, monotonic: Monotonic) -> None:
        self._window = window
        self._monotonic = monotonic
        if window is not None:
            window.grant()

    def done(self) -> None:
        window, self._window = self._window, None
        if window is not None:
            window.answered(self._monotonic())


class BotLimit:
    """A bot's pace and window (see the module's docstring)."""

    def __init__(self, per_second: float, now: float, *, guard: float, burst: float) -> None:
        if per_second <= 0:
            raise ValueError("rate must be positive")
        span = 1.0 + guard
        pace = per_second / span
        self.pace = TokenBucket(pace, now, capacity=max(1.0, pace * burst))
        # below one a second the pace alone keeps the limit
        self.window = RequestWindow(math.floor(per_second), span) if per_second >= 1 else None

    def wait(self, now: float) -> float:
        return 0.0 if self.window is None else self.window.wait(now)


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

    def in_flight(self, channel: str) -> int:
        """Messages of ``channel``'s bot granted and not yet ``done``."""
        bot = self._bots.get(channel)
        return 0 if bot is None or bot.window is None else bot.window.in_flight

    def chat_wait(self, channel: str, chat_id: str) -> float:
        """Seconds before ``chat_id`` may get a message (its own bucket or a paused bot).

        The bot's limit is left out: its queue is bounded by the batch being sent.
        """
        now = self.monotonic()
        return max(self.paused_for(channel), self._chat(channel, chat_id, now).wait_for_one(now))

    async def acquire(self, channel: str, chat_id: str) -> Sending:
        """Take a token of the bot and of the chat, waiting until both are due.

        Callers go one at a time per bot, each taking its token when its turn
        comes, after any wait, so a burst after a stall stays within the limit.
        The caller ends the returned :class:`Sending` when its request has ended
        (``try``/``finally``): until then the message counts as in flight.
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
            return Sending(bot.window, self.monotonic)
