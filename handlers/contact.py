"""Other ways to reach the police, for people who cannot use the bot.

Zalo passes on no content from the accounts it protects (children, people with
disabilities, people who cannot read): every message of theirs arrives as
"unsupported". The engine tells such a person once how else to reach the
police (``handlers.engine.Engine._unsupported``): the emergency numbers and,
when the person's commune is known (the one chosen in the conversation, or the
unit they serve in) and its police have a phone (``unit.phone``), that phone.
"""

from __future__ import annotations

from db.members import UnitRecord
from db.models import Unit
from db.units import by_id
from handlers.flow import Context
from handlers.i18n import _
from handlers.render import esc


async def _their_unit(ctx: Context) -> Unit | UnitRecord | None:
    unit_id = ctx.data.get("unit_id")
    if isinstance(unit_id, int):
        return await by_id(ctx.session, unit_id)
    return ctx.grants[0].unit if ctx.grants else None


async def other_ways(ctx: Context) -> str:
    """The emergency numbers and the commune police's phone, as one short paragraph."""
    text = _(
        "If you cannot send text, photos or voice messages here, reach the police another "
        "way: call 113 (police), 114 (fire) or 115 (ambulance), or go to your commune police "
        "station."
    )
    unit = await _their_unit(ctx)
    if unit is not None and unit.phone:
        text += "\n" + _("Police of {unit}: {phone}").format(
            unit=esc(unit.name), phone=esc(unit.phone)
        )
    return text
