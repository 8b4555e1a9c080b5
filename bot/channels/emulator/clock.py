"""``DemoClock``: real time shifted by an offset that the demo moves forward a day at a time.

One instance is shared by the engine (``Engine(clock=...)``) and the scheduler's
jobs, so "next day" moves every part of the demo that reads the date at once.
Time keeps flowing between moves; ``advance`` then runs the hooks (the demo runs
its reminder and digest jobs there, since APScheduler's triggers follow real time).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from zoneinfo import ZoneInfo

from db.models import utcnow

log = logging.getLogger(__name__)

Hook = Callable[[dt.datetime], Awaitable[object]]


class DemoClock:
    """``now()`` (or ``clock()``) is aware UTC; ``start`` puts the demo at another moment."""

    def __init__(
        self,
        start: dt.datetime | None = None,
        *,
        morning: dt.time | None = None,
        tz: str = "Asia/Ho_Chi_Minh",
        real: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        if start is not None and start.tzinfo is None:
            raise ValueError("DemoClock start must be timezone-aware")
        self._real = real
        self._offset = (start - real()) if start is not None else dt.timedelta(0)
        self.morning = morning
        self.tz = ZoneInfo(tz)
        self.hooks: list[Hook] = []

    def now(self) -> dt.datetime:
        return (self._real() + self._offset).astimezone(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now()

    @property
    def offset(self) -> dt.timedelta:
        """How far the demo is ahead of (or behind) real time."""
        return self._offset

    def move(self, delta: dt.timedelta) -> dt.datetime:
        """Shift the clock without running the hooks."""
        self._offset += delta
        return self.now()

    def next_day(self, days: int = 1) -> dt.datetime:
        """The moment ``advance(days)`` goes to: that many days on, at ``morning`` if set."""
        now = self.now()
        if self.morning is None:
            return now + dt.timedelta(days=days)
        day = now.astimezone(self.tz).date() + dt.timedelta(days=days)
        return dt.datetime.combine(day, self.morning, tzinfo=self.tz).astimezone(dt.UTC)

    async def advance(self, days: int = 1) -> list[BaseException]:
        """Move to the next day (or ``days`` on), then run every hook in order.

        With ``morning`` set, the clock lands on that local time: what was done during
        a demo day, however late, falls within the "last 24 hours" of the next morning.
        A hook that fails is logged and does not stop the others; the errors are returned.
        """
        now = self.move(self.next_day(days) - self.now())
        errors: list[BaseException] = []
        for hook in list(self.hooks):
            try:
                await hook(now)
            except Exception as exc:
                log.exception("demo clock hook %r failed", hook)
                errors.append(exc)
        return errors
