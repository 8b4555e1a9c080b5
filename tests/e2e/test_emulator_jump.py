"""The emulator's "jump to 01/07" control: forward to a day's morning, the hooks run once."""

from __future__ import annotations

import datetime as dt

from tests.e2e import test_emulator_api
from tests.e2e.test_emulator_api import START, Emu

emu = test_emulator_api.emu  # the fixture: the emulator on a real server and database


async def test_jump_to_july_runs_the_day_once(emu: Emu) -> None:
    seen: list[dt.datetime] = []

    async def hook(now: dt.datetime) -> None:
        seen.append(now)

    emu.clock.hooks.append(hook)
    async with emu.http.post("/api/clock/jump", json={"date": "2025-07-01"}) as resp:
        assert resp.status == 200, await resp.text()
        clock = await resp.json()
    assert clock["date"] == "01/07/2025" and clock["errors"] == 0
    assert len(seen) == 1 and seen[0] - START > dt.timedelta(days=56)
    # Not backwards, not nonsense.
    async with emu.http.post("/api/clock/jump", json={"date": "2025-06-01"}) as resp:
        assert resp.status == 400
        assert "already past" in (await resp.json())["error"]
    async with emu.http.post("/api/clock/jump", json={"day": "x"}) as resp:
        assert resp.status == 400
    assert len(seen) == 1
