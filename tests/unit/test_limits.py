"""Token buckets of the outbox sender, on a fake monotonic clock."""

from __future__ import annotations

import pytest

from scheduler import limits
from scheduler.limits import Limiter, Rates, TokenBucket, is_group_chat


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def limiter(time: FakeTime, **rates: float) -> Limiter:
    return Limiter(Rates(**rates), monotonic=time, sleep=time.sleep)


def test_bucket_reservations_queue_up_and_refill() -> None:
    bucket = TokenBucket(rate=2.0, now=0.0)
    assert [bucket.reserve(0.0) for _ in range(3)] == [0.0, 0.5, 1.0]
    assert bucket.wait_for_one(0.0) == pytest.approx(1.5)
    assert bucket.wait_for_one(10.0) == 0.0 and bucket.tokens == 1.0  # no saving up past one


async def test_one_message_a_second_per_chat_and_chats_do_not_wait_for_each_other() -> None:
    time = FakeTime()
    lim = limiter(time, bot_per_second=1000)
    starts = []
    for _ in range(3):
        await lim.acquire("telegram", "42")
        starts.append(time.now)
    assert starts == pytest.approx([0.0, 1.0, 2.0])
    before = time.now
    await lim.acquire("telegram", "43")
    assert time.now == before  # another chat goes at once


async def test_groups_get_twenty_a_minute() -> None:
    time = FakeTime()
    lim = limiter(time, bot_per_second=1000)
    for _ in range(21):
        await lim.acquire("telegram", "-100123")
    assert time.now == pytest.approx(60.0)  # the 21st message starts a minute after the first
    assert is_group_chat("telegram", "-100123") and not is_group_chat("zalo", "-5")


async def test_thirty_a_second_per_bot_across_chats() -> None:
    time = FakeTime()
    lim = Limiter(Rates(bot_per_second=30), monotonic=time, sleep=time.sleep, guard=0, burst=0)
    for chat in range(61):
        await lim.acquire("telegram", str(chat))
    assert time.now == pytest.approx(2.0)  # one every 1/30 s, no room kept, no catching up
    await lim.acquire("zalo", "1")  # another bot has its own bucket
    assert time.now == pytest.approx(2.0)


async def test_the_bot_window_is_one_second_and_its_guard() -> None:
    time = FakeTime()
    lim = limiter(time, bot_per_second=30)  # guard 0.02 s: 30 in any 1.02 s
    starts = []
    for chat in range(61):
        await lim.acquire("telegram", str(chat))
        starts.append(time.now)
    # The pace (30 / 1.02 a second, 0.05 s of it saved up) would let the 31st go at
    # 0.017 + 29 * 0.034 = 1.003 s; the window holds it to 1.02 s after the first.
    assert starts[30] == pytest.approx(1.02)
    assert starts[60] == pytest.approx(2.04)


async def test_pause_holds_the_whole_bot() -> None:
    time = FakeTime()
    lim = limiter(time)
    lim.pause("telegram", 5)
    lim.pause("telegram", 2)  # a shorter pause does not cut a longer one
    assert lim.chat_wait("telegram", "1") == 5
    assert lim.chat_wait("zalo", "1") == 0
    await lim.acquire("telegram", "1")
    assert time.now == pytest.approx(5.0)
    assert lim.paused_for("telegram") == 0


def test_idle_chat_buckets_are_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "PRUNE_ABOVE", 3)
    time = FakeTime()
    lim = limiter(time)
    for chat in "abc":
        lim.chat_wait("telegram", chat)
    time.now += 10
    lim.chat_wait("telegram", "d")
    assert len(lim._chats) == 1
