"""Deadline reminders for the days no process ran: each missed day once, marked late.

``job_day`` keeps the last local day the reminders ran. A run on a later day
first runs every day in between (at most ``CATCH_UP_DAYS`` back), each as it
would have run at ``reminder_hour`` that day, with every reminder saying it is
late; then today's. The keys of the outbox rows carry the day, so a day is
queued once however many processes or retries run it.
"""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from bot.config import Settings
from db.models import JobDay
from db.session import Database, UnitOfWork
from scheduler.reminders import local_today, send_deadline_reminders

log = logging.getLogger(__name__)

JOB = "deadline-reminders"
CATCH_UP_DAYS = 7


def missed_days(last: dt.date | None, today: dt.date) -> list[dt.date]:
    """The days after ``last`` and before ``today`` (the latest ``CATCH_UP_DAYS``)."""
    if last is None:
        return []
    first = max(last + dt.timedelta(days=1), today - dt.timedelta(days=CATCH_UP_DAYS))
    return [first + dt.timedelta(days=n) for n in range((today - first).days)]


async def deadline_reminders_caught_up(db: Database, settings: Settings, now: dt.datetime) -> int:
    """The missed days' reminders (late), then today's; how many rows were new."""
    today = local_today(now, settings)
    async with db.sessions() as session:
        last = await session.scalar(select(JobDay.day).where(JobDay.name == JOB))
    tz = ZoneInfo(settings.timezone)
    queued = 0
    for day in missed_days(last, today):
        at = dt.datetime.combine(day, dt.time(settings.reminder_hour), tzinfo=tz)
        late = await send_deadline_reminders(db, settings, at.astimezone(dt.UTC), late=True)
        log.info("deadline reminders of %s caught up: %d queued", day.isoformat(), late)
        queued += late
    queued += await send_deadline_reminders(db, settings, now)
    async with UnitOfWork(db) as uow:
        stmt = insert(JobDay).values(name=JOB, day=today)
        await uow.session.execute(
            stmt.on_conflict_do_update(
                index_elements=[JobDay.name],
                set_={"day": func.greatest(JobDay.day, stmt.excluded.day)},
            )
        )
        await uow.commit()
    return queued
