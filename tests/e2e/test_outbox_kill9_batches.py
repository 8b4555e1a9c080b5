"""kill -9 of ``antt scheduler`` while its outcomes are written in batches (real processes).

At 1,000 messages a second several outcomes wait for each write, so the kill
falls between messages going out and their batch being written. Nothing is lost,
and what comes twice is only what the killed sender had sent and not recorded,
never more than ``outbox_in_flight`` (16). Counted at the fake Bot API and in the
database (``bench.faults.kill9``).
"""

from __future__ import annotations

from bench import faults
from tests.faulty_pg import FaultyPostgres


async def test_kill9_between_sends_and_their_batch_loses_nothing(faulty: FaultyPostgres) -> None:
    async with faults.world(pg=faulty) as w:
        found = await faults.kill9(w, trials=2, rows=400, rate=1000, latency=0.0)
    assert found["kill9_lost"] == 0
    assert found["kill9_trials_over_inflight"] == 0  # each trial: repeats <= unrecorded
    assert found["kill9_duplicates"] <= 2 * found["kill9_inflight_max"]
    assert found["kill9_inflight_max"] <= 16  # outbox_in_flight
