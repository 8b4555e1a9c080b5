"""Other ways to reach the police, for people who cannot use the bot.

Zalo passes on no content from the accounts it protects (children, people with
disabilities, people who cannot read): every message of theirs arrives as
"unsupported". The engine tells such a person once how else to reach the
police (``handlers.engine.Engine._unsupported``).
"""

from __future__ import annotations

from handlers.flow import Context
from handlers.i18n import _


async def other_ways(ctx: Context) -> str:
    """The emergency numbers and the commune police station, as one short paragraph."""
    return _(
        "If you cannot send text, photos or voice messages here, reach the police another "
        "way: call 113 (police), 114 (fire) or 115 (ambulance), or go to your commune police "
        "station."
    )
