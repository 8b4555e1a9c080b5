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
from db import sealed
from db import tips as repo
from db.models import Outbox, OutboxStatus
from db.session import Database, UnitOfWork
from handlers import triage

log = logging.getLogger(__name__)

# Rate marks of sent tips are only needed for the hourly limit; older ones would
# let a reader of the database line a person's activity up with a tip's time.
SUBMIT_MARKS_KEPT = dt.timedelta(hours=2)


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
    submit_marks: int


async def purge_reporter_links(db: Database, settings: Settings, now: dt.datetime) -> PurgeResult:
    """Delete reporter links whose tips closed ``tip_reporter_retention_days`` ago, the
    delivered messages to reporters (outbox ``tipr:`` rows), and old tip-submission marks."""
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
        marks = await repo.purge_rate_events(session, repo.RATE_SUBMIT, now - SUBMIT_MARKS_KEPT)
        await uow.commit()
    result = PurgeResult(links, n_messages, marks)
    if links or n_messages or marks:
        log.info(
            "purged %d reporter links, %d reporter messages, %d submit marks",
            links,
            n_messages,
            marks,
        )
    return result
