"""Quiet hours: when non-urgent messages to people wait (``quiet_start``–``quiet_end``, local).

One place for the rule, read by the announcement flow (to tell the author when a
message will really go out) and by the outbox sender (to hold rows until then).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from bot.config import Settings


def quiet_until(now: dt.datetime, settings: Settings) -> dt.datetime | None:
    """The end of the quiet hours ``now`` falls in (UTC), or None outside them."""
    start, end = settings.quiet_start, settings.quiet_end
    if start == end:
        return None
    tz = ZoneInfo(settings.timezone)
    local = now.astimezone(tz)
    t = local.time().replace(tzinfo=None)
    if start < end:
        inside = start <= t < end
        end_day = local.date()
    else:  # across midnight, e.g. 21:00-07:00
        inside = t >= start or t < end
        end_day = local.date() + dt.timedelta(days=1) if t >= start else local.date()
    if not inside:
        return None
    return dt.datetime.combine(end_day, end, tzinfo=tz).astimezone(dt.UTC)
