"""The demo's reorganisation, to be watched: from 01/07/2025 Xã Nam Giang and Xã Kim Liên
merge into a new Xã Kim Liên under the province, and Huyện Nam Đàn ends.

The mapping ships as ``db/data/demo-nam-dan-2025-07.csv`` (the format of ``antt unit
reorganize``). ``antt demo`` hands it over at every start: before 01/07/2025 on the demo
clock it waits in ``reorganization`` and the demo's day jobs apply it when the clock
reaches that day ("Next day", "Jump to 01/07", or ``antt demo --date 01/07/2025``); on
or after that day it applies at once. Either way a second start changes nothing.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from db.reorg_file import read_mapping
from db.reorganize import Report, reorganize
from handlers.i18n import local_today
from handlers.unit_changes import notify_lost_roles

DEMO_MAPPING = Path(__file__).resolve().parents[1] / "db" / "data" / "demo-nam-dan-2025-07.csv"
REORGANIZED_ON = dt.date(2025, 7, 1)


async def hand_over_mapping(session: AsyncSession, now: dt.datetime) -> Report:
    """Schedule (or, on or after its date, apply) the demo mapping; in the caller's
    transaction."""
    mapping = read_mapping(DEMO_MAPPING, display_name=DEMO_MAPPING.name)
    report = await reorganize(session, mapping, today=local_today(now), now=now)
    await notify_lost_roles(session, report.changes.ended_grants, now)
    return report
