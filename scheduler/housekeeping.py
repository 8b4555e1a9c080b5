"""Nightly housekeeping: forget old update ids, purge reporter links past retention.

Both deletions are idempotent, so every process may run them, at start-up too
(a machine that was down at night catches up when it comes back).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from bot.config import Settings
from db.conversations import prune_processed_updates
from db.session import Database, UnitOfWork
from scheduler.tips import PurgeResult, purge_reporter_links

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Housekeeping:
    update_ids: int
    reporters: PurgeResult


async def tidy_up(db: Database, settings: Settings, now: dt.datetime) -> Housekeeping:
    """Delete update ids older than ``processed_update_days`` and expired reporter links."""
    before = now - dt.timedelta(days=settings.processed_update_days)
    async with UnitOfWork(db) as uow:
        update_ids = await prune_processed_updates(uow.session, before)
        await uow.commit()
    if update_ids:
        log.info("forgot %d update ids recorded before %s", update_ids, before.isoformat())
    return Housekeeping(update_ids, await purge_reporter_links(db, settings, now))
