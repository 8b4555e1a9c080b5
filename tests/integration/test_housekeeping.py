"""Nightly housekeeping on real PostgreSQL: old update ids go, recent ones stay."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import func, select

from bot.config import Settings
from db.conversations import open_update, prune_processed_updates
from db.models import ProcessedUpdate
from db.session import Database, UnitOfWork
from db.update_tx import UpdateTx
from scheduler.housekeeping import tidy_up
from scheduler.jobs import SchedulerService

NOW = dt.datetime(2026, 11, 26, 20, 0, tzinfo=dt.UTC)


async def _handle(db: Database, update_id: str, at: dt.datetime) -> bool:
    """Open (and commit) one update as the engine does; True when it was new."""
    async with UpdateTx(db) as tx:
        opened = await open_update(tx, "test", "u1", update_id=update_id, now=at)
        await tx.commit()
    return opened.fresh


async def _kept(db: Database) -> set[str]:
    async with db.sessions() as s:
        return set((await s.scalars(select(ProcessedUpdate.update_id))).all())


async def test_old_update_ids_are_forgotten_recent_ones_still_stop_redeliveries(
    db: Database,
) -> None:
    settings = Settings(processed_update_days=2)  # type: ignore[call-arg]
    assert await _handle(db, "100", NOW - dt.timedelta(days=5))
    assert await _handle(db, "200", NOW - dt.timedelta(days=2, minutes=1))
    assert await _handle(db, "300", NOW - dt.timedelta(hours=30))
    assert await _handle(db, "400", NOW - dt.timedelta(minutes=1))

    result = await tidy_up(db, settings, NOW)

    assert result.update_ids == 2
    assert await _kept(db) == {"300", "400"}
    assert not await _handle(db, "300", NOW)  # still a redelivery
    assert await _handle(db, "100", NOW)  # forgotten: an id Telegram may hand out again
    assert (await tidy_up(db, settings, NOW)).update_ids == 0


async def test_pruning_goes_in_batches_until_nothing_is_left(db: Database) -> None:
    for n in range(7):
        await _handle(db, str(n), NOW - dt.timedelta(days=3))
    await _handle(db, "fresh", NOW)
    async with UnitOfWork(db) as uow:
        assert await prune_processed_updates(uow.session, NOW - dt.timedelta(days=1), batch=3) == 7
        await uow.commit()
    async with db.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(ProcessedUpdate)) == 1


async def test_the_scheduler_tidies_up_at_start_up(db: Database) -> None:
    await _handle(db, "1", NOW - dt.timedelta(days=10))
    settings = Settings()  # type: ignore[call-arg]
    async with SchedulerService(db, settings, {}, clock=lambda: NOW, send=False) as service:
        assert "housekeeping" in {job.id for job in service.scheduler.get_jobs()}
        for _ in range(60):
            if not await _kept(db):
                break
            await asyncio.sleep(0.05)
    assert await _kept(db) == set()
