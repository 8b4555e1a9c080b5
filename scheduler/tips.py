"""Tip jobs: escalate unacknowledged tips; purge reporter links and traces past their time.

Plain async functions of (database, settings, now), so tests drive them with a
clock and the scheduler only has to call them. Both are idempotent: escalation
raises a level with a guarded update and queues with dedup keys; the purge only
deletes what is due.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import delete

from bot.config import Settings
from db import rate_limits, sealed
from db import tips as repo
from db.models import Outbox, OutboxStatus
from db.session import Database, UnitOfWork
from handlers import triage

log = logging.getLogger(__name__)


async def escalate_unacknowledged(db: Database, settings: Settings, now: dt.datetime) -> int:
    """Escalate every tip still new ``tip_escalate_hours`` after it arrived or last
    escalated, one level up; the number escalated."""
    escalated = 0
    async with UnitOfWork(db) as uow:
        due = await repo.due_for_escalation(uow.session, now, settings.tip_escalate_hours)
        for tip in due:
            if await triage.escalate(uow.session, tip, now, reason="unacknowledged") is not None:
                escalated += 1
        await uow.commit()
    if escalated:
        log.info("escalated %d unacknowledged tips", escalated)
    return escalated


@dataclass(frozen=True)
class PurgeResult:
    links: int
    reporter_messages: int
    rate_counts: int


async def purge_reporter_links(db: Database, settings: Settings, now: dt.datetime) -> PurgeResult:
    """Delete reporter links whose tips closed ``tip_reporter_retention_days`` ago, the
    delivered messages to reporters (outbox ``tipr:`` rows), and rate-limit counters whose
    window has passed."""
    async with UnitOfWork(db) as uow:
        session = uow.session
        links = await sealed.purge_expired(session, now)
        done = (OutboxStatus.SENT.value, OutboxStatus.FAILED.value, OutboxStatus.BLOCKED.value)
        messages = await session.execute(
            delete(Outbox)
            .where(Outbox.dedup_key.startswith("tipr:"), Outbox.status.in_(done))
            .returning(Outbox.id)
        )
        n_messages = len(messages.all())
        marks = await rate_limits.purge(session, settings, now)
        await uow.commit()
    result = PurgeResult(links, n_messages, marks)
    if links or n_messages or marks:
        log.info(
            "purged %d reporter links, %d reporter messages, %d rate counters",
            links,
            n_messages,
            marks,
        )
    return result
