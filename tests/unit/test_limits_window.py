"""The bot's window and pace (``scheduler.limits``), counted on a fake clock.

Whatever the sender does between its messages (late timers, a stalled event
loop, pauses between batches), no second holds more than the limit, even seen
by a messenger whose arrival times lag ours by up to the guard; and a sender
that keeps up reaches 98% of the limit. Expected counts follow from the rules,
not from the limiter: ``floor(L)`` in any ``1 + guard`` seconds, and a pace of
``L / (1 + guard)`` a second.
"""

from __future__ import annotations

import random

import pytest

from scheduler.limits import BOT_GUARD, Limiter, Rates


class JitteryTime:
    """A clock whose sleeps wake up late by up to ``late`` seconds (seeded)."""

    def __init__(self, rng: random.Random, late: float) -> None:
        self.now = 50.0
        self.rng = rng
        self.late = late

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds + self.rng.uniform(0, self.late)


def most_in_any_second(times: list[float]) -> int:
    """The most of ``times`` (sorted) in any half-open interval of one second."""
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


async def granted_times(
    limit: float, count: int, seed: int, *, late: float, stall_every: int, stall: float
) -> list[float]:
    """Grant times of ``count`` messages to distinct chats, the sender held up now and then."""
    rng = random.Random(seed)
    time = JitteryTime(rng, late)
    lim = Limiter(Rates(bot_per_second=limit), monotonic=time, sleep=time.sleep)
    times = []
    for n in range(count):
        if n % stall_every == stall_every - 1:
            time.now += rng.uniform(0, stall)  # a batch being claimed, the loop held up
        await lim.acquire("telegram", str(n))
        times.append(time.now)
    return times


def test_most_in_any_second_counts_half_open_windows() -> None:
    assert most_in_any_second([0.0, 0.5, 0.999, 1.0, 1.5]) == 3
    assert most_in_any_second([0.0, 1.0, 2.0]) == 1


@pytest.mark.parametrize("limit", [30, 1000])
@pytest.mark.parametrize("seed", range(3))
async def test_no_second_holds_more_than_the_limit_even_with_arrival_jitter(
    limit: int, seed: int
) -> None:
    count = 40 * limit if limit < 100 else 5 * limit
    times = await granted_times(
        limit, count, seed, late=3 / limit, stall_every=limit // 3, stall=0.2
    )
    assert most_in_any_second(times) <= limit
    # The messenger sees each message up to the guard later than we sent it.
    rng = random.Random(seed)
    arrivals = sorted(t + rng.uniform(0, BOT_GUARD) for t in times)
    assert most_in_any_second(arrivals) <= limit
    # The worst case of that jitter: every other message late by the whole guard.
    worst = sorted(t + BOT_GUARD * (i % 2) for i, t in enumerate(times))
    assert most_in_any_second(worst) <= limit


@pytest.mark.parametrize("limit", [30, 1000])
async def test_a_sender_that_keeps_up_reaches_98_percent_of_the_limit(limit: int) -> None:
    count = 60 * limit if limit < 100 else 20 * limit
    # Timers late by up to 2 ms, and a 20 ms pause every 100 messages (claiming a batch):
    # the bucket saves up 50 ms of the pace, so the pauses cost nothing.
    times = await granted_times(limit, count, 7, late=0.002, stall_every=100, stall=0.02)
    rate = (len(times) - 1) / (times[-1] - times[0])
    assert rate / limit == pytest.approx(1 / (1 + BOT_GUARD), abs=0.005)  # 0.980
    assert rate / limit >= 0.975


async def test_the_pace_alone_keeps_a_limit_under_one_a_second() -> None:
    time = JitteryTime(random.Random(1), 0.0)
    lim = Limiter(Rates(bot_per_second=0.5), monotonic=time, sleep=time.sleep)
    starts = []
    for n in range(3):
        await lim.acquire("telegram", str(n))
        starts.append(time.now - 50.0)
    assert starts == pytest.approx([0.0, 2.04, 4.08])  # 0.5 / 1.02 a second


async def test_the_catch_up_after_a_stall_is_a_short_burst_within_the_window() -> None:
    time = JitteryTime(random.Random(1), 0.0)
    lim = Limiter(Rates(bot_per_second=1000), monotonic=time, sleep=time.sleep)
    for n in range(2000):  # a steady second and more at the pace: 980 a second
        await lim.acquire("telegram", str(n))
    time.now += 0.5  # the event loop held up for half a second
    before = time.now
    burst = 0
    for n in range(100):
        await lim.acquire("telegram", f"b{n}")
        burst += time.now == before
    # The bucket saved up 0.05 s of its pace (49 tokens): those go at once, no more.
    assert burst == 49
