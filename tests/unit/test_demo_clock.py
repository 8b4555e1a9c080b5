"""The demo clock: real time plus an offset; "next day" moves it and runs the hooks."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bot.channels.emulator import DemoClock

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


class Real:
    """Real time, moved by hand."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 26, 6, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


def test_starts_where_told_and_keeps_flowing() -> None:
    real = Real()
    clock = DemoClock(dt.datetime(2025, 5, 5, 8, 30, tzinfo=TZ), real=real)
    assert clock() == dt.datetime(2025, 5, 5, 1, 30, tzinfo=dt.UTC)
    real.now += dt.timedelta(minutes=5)
    assert clock.now().astimezone(TZ).time() == dt.time(8, 35)
    assert clock.now().tzinfo == dt.UTC
    with pytest.raises(ValueError):
        DemoClock(dt.datetime(2025, 5, 5, 8, 30))


async def test_next_day_lands_on_the_morning_and_runs_the_hooks() -> None:
    real = Real()
    clock = DemoClock(dt.datetime(2025, 5, 5, 23, 50, tzinfo=TZ), morning=dt.time(7), real=real)
    seen: list[dt.datetime] = []

    async def record(now: dt.datetime) -> None:
        seen.append(now)

    async def broken(now: dt.datetime) -> None:
        raise RuntimeError("a job failed")

    clock.hooks.extend([broken, record])
    errors = await clock.advance()
    assert [str(e) for e in errors] == ["a job failed"]
    assert clock.now().astimezone(TZ) == dt.datetime(2025, 5, 6, 7, 0, tzinfo=TZ)
    assert seen == [clock.now()]
    real.now += dt.timedelta(hours=3)  # a long demo day: the next morning is still tomorrow
    await clock.advance(days=2)
    assert clock.now().astimezone(TZ) == dt.datetime(2025, 5, 8, 7, 0, tzinfo=TZ)


async def test_without_a_morning_a_day_is_24_hours() -> None:
    real = Real()
    clock = DemoClock(dt.datetime(2025, 5, 5, 8, 30, tzinfo=TZ), real=real)
    before = clock.now()
    await clock.advance()
    assert clock.now() - before == dt.timedelta(days=1)
    clock.move(dt.timedelta(hours=-1))
    assert clock.now() - before == dt.timedelta(hours=23)
