"""``CancelWatch`` on real PostgreSQL: the sender's view of whether an announcement was
cancelled, read again at most every ``refresh`` seconds, for every announcement at once."""

from __future__ import annotations

from sqlalchemy import event, update

from db.models import Broadcast
from db.session import Database
from scheduler.cancel_watch import CancelWatch


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def make_broadcasts(db: Database, count: int) -> list[int]:
    async with db.sessions() as s:
        rows = [Broadcast(text=f"b{n}", status="sending") for n in range(count)]
        s.add_all(rows)
        await s.commit()
        return [b.id for b in rows]


async def set_status(db: Database, broadcast_id: int, status: str) -> None:
    async with db.sessions() as s:
        await s.execute(update(Broadcast).where(Broadcast.id == broadcast_id).values(status=status))
        await s.commit()


def count_reads(db: Database) -> list[str]:
    seen: list[str] = []

    def on_execute(conn: object, cursor: object, statement: str, *args: object) -> None:
        if "FROM broadcast" in statement:
            seen.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", on_execute)
    return seen


async def test_a_cancel_is_seen_once_the_answer_is_older_than_refresh(db: Database) -> None:
    first, second = await make_broadcasts(db, 2)
    ticks = Ticks()
    watch = CancelWatch(db, refresh=0.25, monotonic=ticks)
    reads = count_reads(db)
    assert not await watch.cancelled(first)
    assert not await watch.cancelled(first)  # from memory
    assert len(reads) == 1
    await set_status(db, first, "cancelled")
    ticks.now += 0.25
    assert not await watch.cancelled(first)  # exactly refresh old: still trusted
    assert len(reads) == 1
    ticks.now += 0.01
    assert await watch.cancelled(first)  # older: read again
    assert len(reads) == 2
    await set_status(db, first, "sending")  # never happens, but cancelled stays cancelled
    ticks.now += 10
    assert await watch.cancelled(first)
    assert len(reads) == 2
    assert not await watch.cancelled(second)  # another announcement: its own first read
    assert len(reads) == 3


async def test_one_read_covers_every_announcement_going_out(db: Database) -> None:
    first, second, third = await make_broadcasts(db, 3)
    ticks = Ticks()
    watch = CancelWatch(db, refresh=0.25, monotonic=ticks)
    for b in (first, second):
        assert not await watch.cancelled(b)
    reads = count_reads(db)
    await set_status(db, second, "cancelled")
    ticks.now += 1
    assert not await watch.cancelled(first)  # this read also learns about the second
    assert len(reads) == 1
    assert await watch.cancelled(second)
    assert len(reads) == 1
    assert watch.cancelled_ids == {second}
    assert not await watch.cancelled(third)
    assert not await watch.cancelled(10**9)  # unknown: not cancelled, not remembered
    assert 10**9 not in watch.cancelled_ids


async def test_memory_stays_bounded(db: Database) -> None:
    ids = await make_broadcasts(db, 6)
    ticks = Ticks()
    watch = CancelWatch(db, refresh=0.25, monotonic=ticks, keep=2)
    for n, b in enumerate(ids):
        ticks.now += 1
        await set_status(db, b, "cancelled" if n >= 3 else "sending")
        assert await watch.cancelled(b) == (n >= 3)
    assert set(watch.active) == {ids[1], ids[2]}  # the latest seen going out
    assert watch.cancelled_ids == {ids[4], ids[5]}  # the newest cancelled


def test_an_answer_is_trusted_a_quarter_second_by_default(db: Database) -> None:
    watch = CancelWatch(db)
    assert (watch.refresh, watch.keep) == (0.25, 256)
