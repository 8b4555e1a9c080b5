"""``Limiter.sent_before``: a sender taking over learns the pace of the one before it."""

from __future__ import annotations

import pytest

from scheduler.limits import Limiter, Rates


class Time:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_sent_before_spaces_the_next_message() -> None:
    time = Time()
    limiter = Limiter(Rates(30.0, 1.0, 20.0), monotonic=time)
    limiter.sent_before("telegram", "7", 0.25)
    assert limiter.chat_wait("telegram", "7") == pytest.approx(0.75)
    limiter.sent_before("telegram", "-5", 1.0)  # a group: one every 3 s
    assert limiter.chat_wait("telegram", "-5") == pytest.approx(2.0)
    limiter.sent_before("telegram", "8", 10.0)  # long ago: no wait
    assert limiter.chat_wait("telegram", "8") == 0.0


def test_sent_before_never_gives_back_a_debt() -> None:
    time = Time()
    limiter = Limiter(Rates(30.0, 1.0, 20.0), monotonic=time)
    limiter.sent_before("telegram", "7", 0.5)
    limiter.sent_before("telegram", "7", 5.0)  # an older send changes nothing
    assert limiter.chat_wait("telegram", "7") == pytest.approx(0.5)
