"""Evaluation reminders: the officers of a unit whose self-assessment is not submitted hear
about it 7 days and 1 day before their unit kind's deadline and on the day (20/11 for
residential areas; 30/11 for communes, agencies, enterprises and schools; 15/12 for
districts, as the round's sheet says). Keyed ``eval:{round}:{unit}:{identity}:{day}``,
so any number of runs queue each reminder once.
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import partial
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.config import Settings
from db import evaluation as repo
from db.models import Evaluation, EvaluationStatus, Role, Unit
from db.reminders import recipients_by_unit
from db.session import Database, UnitOfWork
from handlers.i18n import _, format_date
from handlers.notify import enqueue
from handlers.render import bold, esc
from handlers.types import Choice, Message

log = logging.getLogger(__name__)
DAYS_BEFORE = (7, 1, 0)


def reminder(unit_name: str, due: dt.date, left: int) -> list[Message]:
    when = (
        _("It is due today, {date}.").format(date=format_date(due))
        if left == 0
        else _("It is due on {date}.").format(date=format_date(due))
    )
    text = "\n".join(
        [
            bold(_("Yearly evaluation")),
            _("The self-assessment of {unit} is not submitted yet.").format(unit=esc(unit_name)),
            when,
        ]
    )
    return [Message(text, choices=[Choice("ev:me", _("Open the sheet"))])]


async def send_evaluation_reminders(db: Database, settings: Settings, now: dt.datetime) -> int:
    """Queue today's evaluation reminders; how many rows were new."""
    today = now.astimezone(ZoneInfo(settings.timezone)).date()
    queued = 0
    async with UnitOfWork(db) as uow:
        session = uow.session
        round_ = await repo.round_of(session, today.year)
        if round_ is None:
            return 0
        kinds = [
            kind
            for kind in (round_.sheet.get("deadlines") or {})
            if (due := repo.deadline(round_.sheet, kind, round_.year)) is not None
            and (due - today).days in DAYS_BEFORE
        ]
        if not kinds:
            return 0
        submitted = select(Evaluation.unit_id).where(
            Evaluation.round_id == round_.id, Evaluation.status != EvaluationStatus.DRAFT.value
        )
        units = (
            (
                await session.execute(
                    select(Unit).where(
                        Unit.kind.in_(kinds), Unit.valid_to.is_(None), Unit.id.not_in(submitted)
                    )
                )
            )
            .scalars()
            .all()
        )
        people = await recipients_by_unit(session, [u.id for u in units], [Role.OFFICER])
        for unit in units:
            due = repo.deadline(round_.sheet, unit.kind, round_.year)
            assert due is not None
            for identity in people.get(unit.id, []):
                if await enqueue(
                    session,
                    identity,
                    partial(reminder, unit.name, due, (due - today).days),
                    dedup_key=f"eval:{round_.id}:{unit.id}:{identity.id}:{today.isoformat()}",
                    not_before=now,
                ):
                    queued += 1
        await uow.commit()
    log.info("evaluation reminders for %s: %d queued", today.isoformat(), queued)
    return queued
