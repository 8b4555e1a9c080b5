"""Re-appraisal from tips (plan II.2.e: review recognised localities regularly and
re-appraise those where drug cases occur).

When an officer closes a drugs-category tip as handled in a unit recognised
drug-free, the triage flow asks whether it confirmed a drug case there
(``tr:dg:<tip id>:y|n``). A "yes" appends a *reappraisal* event to that
recognition (source ``tip``, the tip's id kept) and tells the supervisors of the
district above (never the reporter's identity: the tip is named by its number,
as in their own inbox). The recognition stays in force until the district decides
(maintained, or revoked) in the register.
"""

from __future__ import annotations

import datetime as dt
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import DISTRICT_LEVEL, Recognition, RecognitionStatus, Role, Tip, Unit
from db.register import add_event, drug_free_recognition
from db.reminders import recipients_by_unit
from db.units import ancestors
from handlers.i18n import _, format_date, local_today
from handlers.notify import enqueue
from handlers.render import bold, esc
from handlers.types import Choice, Message

DRUGS = "drugs"
HANDLED = "handled"


async def recognition_at_stake(session: AsyncSession, tip: Tip, outcome: str) -> Recognition | None:
    """The drug-free recognition a drugs tip closed as handled may put in question."""
    if tip.category != DRUGS or outcome != HANDLED:
        return None
    return await drug_free_recognition(session, tip.unit_id)


def question(tip: Tip, unit: Unit, recognition: Recognition) -> Message:
    text = _(
        "{unit} is recognised drug-free (decision {number} of {date}). Did tip #{id} "
        "confirm a drug case there? If so, the recognition is flagged for re-appraisal "
        "to the district."
    ).format(
        unit=bold(esc(unit.name)),
        number=esc(recognition.decision_no),
        date=format_date(recognition.decided_on),
        id=tip.id,
    )
    choices = [
        Choice(f"tr:dg:{tip.id}:y", _("Yes, a drug case was confirmed")),
        Choice(f"tr:dg:{tip.id}:n", _("No")),
    ]
    return Message(text, choices=choices)


async def flag_reappraisal(
    session: AsyncSession,
    tip: Tip,
    unit: Unit,
    *,
    actor_member_id: int | None,
    actor_name: str,
    now: dt.datetime,
) -> int:
    """Flag the unit's drug-free recognition and tell the district's supervisors.

    Returns how many messages were queued (0 when nothing was in force any more).
    """
    recognition = await drug_free_recognition(session, unit.id)
    if recognition is None:
        return 0
    today = local_today(now)
    await add_event(
        session,
        recognition,
        RecognitionStatus.REAPPRAISAL.value,
        today,
        note=_("tip #{id} confirmed a drug case").format(id=tip.id),
        source="tip",
        tip_id=tip.id,
        actor_member_id=actor_member_id,
    )
    districts = [u for u in await ancestors(session, unit) if u.kind in DISTRICT_LEVEL]
    people = await recipients_by_unit(session, [u.id for u in districts], [Role.SUPERVISOR])
    queued = 0
    for district in districts:
        for identity in people.get(district.id, []):
            render = partial(_notice, tip.id, unit.name, recognition, actor_name, today)
            if await enqueue(
                session,
                identity,
                render,
                dedup_key=f"reappraisal:{recognition.id}:{tip.id}:{identity.id}",
                not_before=now,
            ):
                queued += 1
    return queued


def _notice(
    tip_id: int, unit_name: str, recognition: Recognition, actor: str, day: dt.date
) -> list[Message]:
    text = "\n".join(
        [
            bold(_("Drug-free recognition to re-appraise")),
            _(
                "{unit} is recognised drug-free (decision {number} of {date}), but tip "
                "#{id}, closed by {officer} on {day}, confirmed a drug case there."
            ).format(
                unit=bold(esc(unit_name)),
                number=esc(recognition.decision_no),
                date=format_date(recognition.decided_on),
                id=tip_id,
                officer=esc(actor),
                day=format_date(day),
            ),
            _(
                "The register marks it under re-appraisal; record the outcome there "
                "(maintained or revoked)."
            ),
        ]
    )
    return [Message(text, choices=[Choice(f"tr:open:{tip_id}", _("Open the tip"))])]
