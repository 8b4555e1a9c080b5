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
        (await lim.acquire("telegram", "42")).done()
        starts.append(time.now)
    assert starts == pytest.approx([0.0, 1.0, 2.0])
    before = time.now
    (await lim.acquire("telegram", "43")).done()
    assert time.now == before  # another chat goes at once


async def test_groups_get_twenty_a_minute() -> None:
    time = FakeTime()
    lim = limiter(time, bot_per_second=1000)
    for _ in range(21):
        (await lim.acquire("telegram", "-100123")).done()
    assert time.now == pytest.approx(60.0)  # the 21st message starts a minute after the first
    assert is_group_chat("telegram", "-100123") and not is_group_chat("zalo", "-5")


async def test_thirty_a_second_per_bot_across_chats() -> None:
    time = FakeTime()
    lim = Limiter(Rates(bot_per_second=30), monotonic=time, sleep=time.sleep, guard=0, burst=0)
    for chat in range(61):
        (await lim.acquire("telegram", str(chat))).done()
    assert time.now == pytest.approx(2.0)  # one every 1/30 s, no room kept, no catching up
    (await lim.acquire("zalo", "1")).done()  # another bot has its own bucket
    assert time.now == pytest.approx(2.0)


async def test_the_bot_window_is_one_second_and_its_guard() -> None:
    time = FakeTime()
    lim = limiter(time, bot_per_second=30)  # guard 0.001 s: 30 in any 1.001 s
    starts = []
    for chat in range(61):
        (await lim.acquire("telegram", str(chat))).done()  # answered at once
        starts.append(time.now)
    # The pace (30 / 1.001 a second, 0.05 s of it saved up: 1.5 tokens) would let the
    # 31st go at 0.5 / 29.97 + 29 / 29.97 = 0.984 s; the window holds it to 1.001 s
    # after the first.
    assert starts[30] == pytest.approx(1.001)
    assert starts[60] == pytest.approx(2.002)


async def test_a_message_in_flight_counts_until_its_response() -> None:
    time = FakeTime()
    lim = limiter(time, bot_per_second=2)  # 2 in any 1.001 s, each from grant to response
    slow = await lim.acquire("telegram", "1")  # t = 0, answered at 3.0
    fast = await lim.acquire("telegram", "2")  # the pace: one token in 1.001 / 2 s
    assert time.now == pytest.approx(0.5005)
    fast.done()
    assert lim.in_flight("telegram") == 1
    time.now = 3.0
    slow.done()
    slow.done()  # only the first call counts
    assert lim.in_flight("telegram") == 0
    (await lim.acquire("telegram", "3")).done()
    # Both answers (0.5005 and 3.0) count until 1.001 s after them: the fast one has
    # aged out, the slow one not, so the third goes at once (one counted, below 2) ...
    assert time.now == pytest.approx(3.0)
    (await lim.acquire("telegram", "4")).done()
    # ... and the fourth (the pace would allow 3.5005) waits until the slow answer
    # and the third's, both at 3.0, age out: 3.0 + 1.001.
    assert time.now == pytest.approx(4.001)


async def test_pause_holds_the_whole_bot() -> None:
    time = FakeTime()
    lim = limiter(time)
    lim.pause("telegram", 5)
    lim.pause("telegram", 2)  # a shorter pause does not cut a longer one
    assert lim.chat_wait("telegram", "1") == 5
    assert lim.chat_wait("zalo", "1") == 0
    (await lim.acquire("telegram", "1")).done()
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
