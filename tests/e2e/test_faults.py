"""Fast versions of ``bench/faults.py`` (real processes, a PostgreSQL that is stopped,
kill -9): one outage, one kill -9, two processes sharing the limits."""

from __future__ import annotations

from bench import faults
from tests.faulty_pg import FaultyPostgres


async def test_an_outage_loses_and_doubles_no_update(faulty: FaultyPostgres) -> None:
    async with faults.world(pg=faulty) as w:
        found = await faults.outage(w, people=3, outage_s=5)
    assert found["outage_updates_sent"] == 6
    assert found["outage_updates_lost"] == 0
    assert found["outage_updates_doubled"] == 0
    assert found["outage_webhook_posts"] > 3  # the webhook said 503 at least once
    assert found["sender_recovered_s"] <= 10
    assert (found["healthz_during_outage"], found["healthz_after"]) == (503, 200)


async def test_kill9_of_the_sender_loses_nothing_and_repeats_only_what_was_in_flight(
    faulty: FaultyPostgres,
) -> None:
    async with faults.world(pg=faulty) as w:
        found = await faults.kill9(w, trials=1, rows=60, rate=100, latency=0.02)
    assert found["kill9_lost"] == 0
    assert found["kill9_duplicates"] <= found["kill9_inflight_max"] <= 16  # outbox_in_flight
    assert found["kill9_failover_max_s"] is not None and found["kill9_failover_max_s"] <= 15


async def test_two_processes_keep_one_set_of_limits_across_a_kill9(
    faulty: FaultyPostgres,
) -> None:
    async with faults.world(pg=faulty) as w:
        found = await faults.limits(
            w,
            chats=30,
            repeat_chats=6,
            groups=1,
            group_msgs=4,
            kill_after_s=2.5,
            schedulers=1,
            rate=10.0,
        )
    assert found["limits_messages"] == found["limits_expected"] == 30 + 12 + 4
    assert found["max_msgs_any_1s_window"] <= 10
    assert found["min_same_chat_gap_s"] >= 1.0
    assert found["min_group_gap_s"] >= 3.0  # 20 a minute
    assert found["limits_failover_s"] is not None and found["limits_failover_s"] <= 15
