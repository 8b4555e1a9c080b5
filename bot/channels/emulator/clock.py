"""``DemoClock``: real time shifted by an offset that the demo moves forward a day at a time.

One instance is shared by the engine (``Engine(clock=...)``), the scheduler and
the outbox sender, so "next day" moves every part of the demo at once. Time
keeps flowing between moves; ``advance`` then runs the hooks (the demo runs its
reminder and digest jobs there, since APScheduler's triggers follow real time).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable

from db.models import utcnow

log = logging.getLogger(__name__)

Hook = Callable[[dt.datetime], Awaitable[object]]


class DemoClock:
    """``now()`` (or ``clock()``) is aware UTC; ``start`` puts the demo at another moment."""

    def __init__(
        self,
        start: dt.datetime | None = None,
        *,
        real: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        if start is not None and start.tzinfo is None:
            raise ValueError("DemoClock start must be timezone-aware")
        self._real = real
        self._offset = (start - real()) if start is not None else dt.timedelta(0)
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

    async def advance(self, days: float = 1, **delta: float) -> list[BaseException]:
        """Move forward (one day by default), then run every hook in order.

        A hook that fails is logged and does not stop the others; the errors are returned.
        """
        now = self.move(dt.timedelta(days=days, **delta))
        errors: list[BaseException] = []
        for hook in list(self.hooks):
            try:
                await hook(now)
            except Exception as exc:
                log.exception("demo clock hook %r failed", hook)
                errors.append(exc)
        return errors
