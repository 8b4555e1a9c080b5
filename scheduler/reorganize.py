"""The daily job that applies reorganisations whose date has come (``db.reorganize``).

Runs just after local midnight and at start-up. A stored mapping is applied once,
under a row lock, with its unit changes, the moves of ``db.succession`` and the
admins' notices in one transaction; a second run (or a second process) finds
nothing left to do. A mapping that no longer fits the tree is marked failed with
its problems (see ``antt unit list`` and the audit log).
"""

from __future__ import annotations

import datetime as dt
import logging

from bot.config import Settings
from db.reorganize import apply_due
from db.session import Database, UnitOfWork
from handlers.unit_changes import notify_lost_roles
from scheduler.reminders import local_today

log = logging.getLogger(__name__)


async def apply_due_reorganizations(db: Database, settings: Settings, now: dt.datetime) -> int:
    """Apply what is due today; returns how many stored mappings were applied."""
    async with UnitOfWork(db) as uow:
        reports = await apply_due(uow.session, local_today(now, settings), now)
        for report in reports:
            await notify_lost_roles(uow.session, report.changes.ended_grants, now)
        await uow.commit()
    for report in reports:
        log.info("reorganisation applied: %s", report.changes.counts())
    return len(reports)
