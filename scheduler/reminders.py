"""Deadline reminders and the weekly no-check-in nudge: jobs that only write outbox rows.

For each assignment that is not done, to each officer and grassroots force
member of the owing unit (the plan's reporting calendar, tasks with
``is_reporting``, likewise to each reporting unit), on these local days:

=====================  =========================  ================================
day                    kind in the dedup key      note
=====================  =========================  ================================
deadline − 7           ``d7``                     not for weekly recurring duties
deadline − 1           ``d1``
deadline               ``d0``
deadline + 7, +14, …   ``overdue``                until done; not recurring duties
snooze end             ``snooze``                 "remind me tomorrow", unless one
                                                  of the above goes out that day
=====================  =========================  ================================

A recurring duty is due at the end of its current period (``period_key`` of
:mod:`db.checkins`, capped by the assignment's deadline) and done once that
period has its entry; one the text gives no cadence is reminded of its deadline
only, like a milestone (no cycle is invented). A snoozed person hears nothing about that assignment
until the snooze ends.

Every row is keyed ``rem:{assignment}:{identity}:{kind}:{day}`` (nudges
``nudge:{identity}:{iso week}``), so any number of processes may run a job any
number of times a day: each reminder is queued once. Reminders are not urgent:
the daily run is at 07:00, when the quiet hours end.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
import logging
from collections.abc import Callable
from enum import StrEnum
from functools import partial
from zoneinfo import ZoneInfo

from bot.config import Settings
from db import reminders as repo
from db.checkins import AssignmentProgress
from db.models import Identity, Role, TaskKind
from db.session import Database, UnitOfWork
from handlers.i18n import _
from handlers.notify import enqueue
from handlers.reminders import nudge_messages, reminder_messages
from handlers.render import esc
from handlers.types import Message

log = logging.getLogger(__name__)

OFFICERS = (Role.OFFICER, Role.FORCE)
HORIZON_DAYS = 7
NUDGE_AFTER = dt.timedelta(days=7)
SNOOZES_KEPT_DAYS = 30


class Kind(StrEnum):
    WEEK_BEFORE = "d7"
    DAY_BEFORE = "d1"
    ON_THE_DAY = "d0"
    OVERDUE = "overdue"
    SNOOZED = "snooze"


def local_today(now: dt.datetime, settings: Settings) -> dt.date:
    return now.astimezone(ZoneInfo(settings.timezone)).date()


def period_end(cadence: str | None, day: dt.date) -> dt.date:
    """The last day of ``day``'s period, with the cadences of ``db.checkins.period_key``."""
    kind = (cadence or "monthly").strip().lower().replace("_", "-")
    if kind == "weekly":
        return day + dt.timedelta(days=6 - day.weekday())
    if kind == "quarterly":
        month = ((day.month - 1) // 3 + 1) * 3
    elif kind in {"half-yearly", "semiannual", "semi-annual", "biannual"}:
        month = 6 if day.month <= 6 else 12
    elif kind in {"yearly", "annual", "annually"}:
        month = 12
    else:
        month = day.month
    return dt.date(day.year, month, calendar.monthrange(day.year, month)[1])


def due_date(row: AssignmentProgress, today: dt.date) -> dt.date | None:
    """When ``row`` is due as seen on ``today``; None for a recurring duty that has ended."""
    if row.kind == TaskKind.RECURRING and row.cadence:
        if row.deadline < today:
            return None
        return min(row.deadline, period_end(row.cadence, today))
    return row.deadline


def scheduled_kind(row: AssignmentProgress, today: dt.date) -> Kind | None:
    """The reminder ``row`` owes on ``today`` by the calendar alone (done or not).

    ``due_date`` keeps a recurring duty off the 7-day and overdue reminders: its due
    day is never past, and a weekly period ends at most 6 days ahead.
    """
    due = due_date(row, today)
    if due is None:
        return None
    left = (due - today).days
    if left == 7:
        return Kind.WEEK_BEFORE
    if left == 1:
        return Kind.DAY_BEFORE
    if left == 0:
        return Kind.ON_THE_DAY
    if left < 0 and -left % 7 == 0:
        return Kind.OVERDUE
    return None


def reminder_key(assignment_id: int, identity_id: int, kind: Kind, day: dt.date) -> str:
    return f"rem:{assignment_id}:{identity_id}:{kind}:{day.isoformat()}"


def nudge_key(identity_id: int, day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"nudge:{identity_id}:{year}-W{week:02d}"


def marked_late(render: Callable[[], list[Message]], day: dt.date) -> list[Message]:
    """``render()`` with a first line saying the reminder belongs to ``day``, gone by."""
    note = _("Late reminder for {date}: the bot was not running that day.").format(
        date=day.strftime("%d/%m/%Y")
    )
    messages = render()
    first = messages[0]
    return [dataclasses.replace(first, text=f"{esc(note)}\n{first.text}"), *messages[1:]]


async def send_deadline_reminders(
    db: Database, settings: Settings, now: dt.datetime, *, late: bool = False
) -> int:
    """Queue the deadline reminders of ``now``'s day; how many rows were new.

    ``late``: that day has passed (a catch-up, ``scheduler.catch_up``): each
    reminder says so on its first line.
    """
    today = local_today(now, settings)
    queued = 0
    async with UnitOfWork(db) as uow:
        session = uow.session
        snoozed = await repo.snoozes(session, today)
        rows = await repo.reminder_candidates(
            session,
            today,
            horizon_days=HORIZON_DAYS,
            overdue_max_days=settings.reminder_overdue_max_days,
            also_ids={a for (_, a), until in snoozed.items() if until == today},
        )
        rows = [r for r in rows if not r.is_done(today)]
        people = await repo.recipients_by_unit(session, {r.unit_id for r in rows}, OFFICERS)
        for row in rows:
            due = due_date(row, today)
            if due is None:
                continue
            for identity in people.get(row.unit_id, []):
                until = snoozed.get((identity.id, row.assignment_id))
                if until is not None and until > today:
                    continue
                kind = scheduled_kind(row, today)
                if kind is None and until == today:
                    kind = Kind.SNOOZED
                if kind is None:
                    continue
                render = partial(reminder_messages, row, due, today)
                if await enqueue(
                    session,
                    identity,
                    partial(marked_late, render, today) if late else render,
                    dedup_key=reminder_key(row.assignment_id, identity.id, kind, today),
                    not_before=now,
                ):
                    queued += 1
        await repo.forget_snoozes(session, today - dt.timedelta(days=SNOOZES_KEPT_DAYS))
        await uow.commit()
    log.info("deadline reminders for %s: %d queued", today.isoformat(), queued)
    return queued


async def send_checkin_nudges(db: Database, settings: Settings, now: dt.datetime) -> int:
    """Once a week, tell each officer which running tasks of its unit had no check-in for 7 days.

    Tasks due within the reminder horizon are left out: their own reminders cover them.
    """
    today = local_today(now, settings)
    queued = 0
    async with UnitOfWork(db) as uow:
        session = uow.session
        snoozed = await repo.snoozes(session, today + dt.timedelta(days=1))
        stale = [
            r
            for r in await repo.active_assignments(session, today)
            if (r.deadline - today).days > HORIZON_DAYS
            and not r.is_done(today)
            and (r.latest is None or now - r.latest.created_at >= NUDGE_AFTER)
        ]
        people = await repo.recipients_by_unit(session, {r.unit_id for r in stale}, OFFICERS)
        owed: dict[int, tuple[Identity, list[AssignmentProgress]]] = {}
        for row in stale:
            for identity in people.get(row.unit_id, []):
                if (identity.id, row.assignment_id) in snoozed:
                    continue
                owed.setdefault(identity.id, (identity, []))[1].append(row)
        for identity_id, (identity, tasks) in owed.items():
            tasks.sort(key=lambda r: (r.deadline, r.task_sort, r.assignment_id))
            if await enqueue(
                session,
                identity,
                partial(nudge_messages, tasks),
                dedup_key=nudge_key(identity_id, today),
                not_before=now,
            ):
                queued += 1
        await uow.commit()
    log.info("check-in nudges for week of %s: %d queued", today.isoformat(), queued)
    return queued
