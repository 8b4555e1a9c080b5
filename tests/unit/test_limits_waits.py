"""Waits of the outbox limiter that the basic bucket tests leave open (scheduler.limits).

A fake monotonic clock; expected waits are worked out by hand from the rates.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from scheduler.limits import Limiter, Rates, TokenBucket


class FakeTime:
    """A clock that moves only when the limiter sleeps; ``during_sleep`` runs mid-sleep."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []
        self.during_sleep: Callable[[], None] | None = None

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds / 2
        if self.during_sleep is not None:
            hook, self.during_sleep = self.during_sleep, None
            hook()
        self.now += seconds / 2


def limiter(time: FakeTime, **rates: float) -> Limiter:
    return Limiter(Rates(**rates), monotonic=time, sleep=time.sleep)


async def test_a_429_arriving_while_a_sender_waits_holds_it_until_the_pause_ends() -> None:
    time = FakeTime()
    lim = limiter(time)
    (await lim.acquire("telegram", "42")).done()  # the chat's one token
    # The next message waits 1 s for the chat; half-way, a 429 says "retry after 5 s".
    time.during_sleep = lambda: lim.pause("telegram", 5)
    (await lim.acquire("telegram", "42")).done()
    assert time.slept == pytest.approx([1.0, 4.5])
    assert time.now == pytest.approx(5.5)
    assert lim.paused_for("telegram") == 0


async def test_a_429_during_a_wait_on_another_bot_does_not_hold_this_one() -> None:
    time = FakeTime()
    lim = limiter(time)
    (await lim.acquire("zalo", "7")).done()
    time.during_sleep = lambda: lim.pause("telegram", 30)
    (await lim.acquire("zalo", "7")).done()
    assert time.now == pytest.approx(1.0)


def test_a_pause_lasts_exactly_its_seconds_and_zero_is_none() -> None:
    time = FakeTime()
    lim = limiter(time)
    lim.pause("telegram", 0.5)
    assert lim.paused_for("telegram") == pytest.approx(0.5)
    lim.pause("zalo", 0)
    lim.pause("zalo", -3)
    assert lim.paused_for("zalo") == 0.0


async def test_a_paused_bot_waits_before_its_first_message() -> None:
    time = FakeTime()
    lim = limiter(time)
    lim.pause("telegram", 2.5)
    lim.pause("telegram", -1)  # a nonsense retry_after neither cuts nor extends the pause
    (await lim.acquire("telegram", "1")).done()
    assert time.now == pytest.approx(2.5)


@pytest.mark.parametrize("rate", [0, 0.0, -1])
def test_a_bucket_refuses_a_rate_that_is_not_positive(rate: float) -> None:
    with pytest.raises(ValueError, match="^rate must be positive$"):
        TokenBucket(rate, now=0.0)


@pytest.mark.parametrize(
    "rates", [{"chat_per_second": 0}, {"bot_per_second": 0}, {"group_per_minute": 0}]
)
async def test_a_limiter_with_a_zero_rate_refuses_to_send(rates: dict[str, float]) -> None:
    time = FakeTime()
    lim = limiter(time, **rates)
    with pytest.raises(ValueError, match="^rate must be positive$"):
        (await lim.acquire("telegram", "-100" if "group_per_minute" in rates else "1")).done()


def test_a_bucket_saves_up_to_its_capacity_only() -> None:
    bucket = TokenBucket(rate=1.0, now=0.0, capacity=3.0)
    assert [bucket.reserve(0.0) for _ in range(4)] == [0.0, 0.0, 0.0, 1.0]
    assert bucket.wait_for_one(0.0) == pytest.approx(2.0)  # one in debt: two seconds to one
    assert bucket.wait_for_one(100.0) == 0.0 and bucket.tokens == 3.0
    assert bucket.idle(100.0)
    bucket.reserve(100.0)
    assert not bucket.idle(100.5) and bucket.idle(101.0)


def test_a_clock_going_back_does_not_refill() -> None:
    bucket = TokenBucket(rate=1.0, now=10.0)
    assert bucket.reserve(10.0) == 0.0
    assert bucket.reserve(5.0) == pytest.approx(1.0)  # earlier than the stamp: no tokens
    assert bucket.stamp == 10.0


def test_chat_wait_counts_the_chat_and_the_pause_not_the_bot() -> None:
    time = FakeTime()
    lim = limiter(time, bot_per_second=1)
    lim._bot("telegram", 0.0).pace.reserve(0.0)  # the bot's token is gone
    assert lim.chat_wait("telegram", "2") == 0.0
    lim._chat("telegram", "2", 0.0).reserve(0.0)
    assert lim.chat_wait("telegram", "2") == pytest.approx(1.0)
    assert lim.chat_wait("telegram", "-100") == 0.0
    lim._chat("telegram", "-100", 0.0).reserve(0.0)
    assert lim.chat_wait("telegram", "-100") == pytest.approx(3.0)  # 20 a minute
    lim.pause("telegram", 7)
    assert lim.chat_wait("telegram", "2") == pytest.approx(7.0)


async def test_the_default_rates_are_telegrams_ceilings() -> None:
    time = FakeTime()
    lim = Limiter(monotonic=time, sleep=time.sleep)  # no rates given
    for chat in range(61):
        (await lim.acquire("telegram", str(chat))).done()
    assert time.now == pytest.approx(2.002)  # 30 a second per bot, in windows of 1.001 s
    for who, spacing in (("7", 1.0), ("-100", 3.0)):  # 1 a second per chat, 20 a minute per group
        time = FakeTime()
        lim = Limiter(monotonic=time, sleep=time.sleep)
        for _ in range(4):
            (await lim.acquire("telegram", who)).done()
        assert time.now == pytest.approx(3 * spacing)
