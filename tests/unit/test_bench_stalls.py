"""bench.telegram_engine's stall record: slow replies grouped by the time they came."""

from __future__ import annotations

from bench.telegram_engine import stalls


def test_slow_replies_within_a_second_of_each_other_are_one_stall() -> None:
    # Answered at (s since the epoch), latency (s); given out of order.
    slow = [(110.0, 0.5), (100.5, 0.3), (100.0, 0.2), (101.2, 0.15)]
    assert stalls(slow) == [
        # began 100.0 - 0.2 = 99.8 s (00:01:39.800), last reply 101.2: 1.4 s, 3 replies
        {"began_utc": "00:01:39.800", "seconds": 1.4, "replies": 3, "max_ms": 300.0},
        # 110.0 comes 8.8 s after 101.2: a stall of its own, began 109.5
        {"began_utc": "00:01:49.500", "seconds": 0.5, "replies": 1, "max_ms": 500.0},
    ]


def test_a_gap_of_more_than_a_second_splits_and_none_gives_none() -> None:
    assert [s["replies"] for s in stalls([(10.0, 0.1), (11.0, 0.1), (12.01, 0.1)])] == [2, 1]
    assert stalls([]) == []
