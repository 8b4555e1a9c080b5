"""The yearly evaluation through the real engine: an officer scores and submits (a score
above the maximum refused), the district supervisor ranks, adjusts with a reason, and must
give a reason to decide a different total; Excel ranking."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import select

from db import evaluation as ev
from db.models import Evaluation, Role
from db.plan_import import SHIPPED_PLAN
from db.session import Database
from db.units import by_code
from tests.integration.import_support import import_plan, import_units
from tests.integration.plan_fixtures import enrol, make_engine
from tests.support import Clock


async def test_officer_scores_supervisor_decides(db: Database, tmp_path: Path) -> None:
    await import_plan(db, SHIPPED_PLAN)
    units = tmp_path / "communes.csv"
    units.write_text(
        "code,name,kind,parent_code\nnd-01,Xã Một,commune,nam-dan\nnd-02,Xã Hai,commune,nam-dan\n",
        encoding="utf-8",
    )
    await import_units(db, units)
    async with db.sessions() as s:
        await ev.open_round(s, 2025, ev.load_sheet(), actor_member_id=None)
        await s.commit()
        one = await by_code(s, "nd-01")
        nam_dan = await by_code(s, "nam-dan")
    assert one is not None and nam_dan is not None
    clock = Clock(dt.datetime(2025, 11, 25, 2, tzinfo=dt.UTC))
    engine = make_engine(db, clock)
    officer = await enrol(db, engine, "o-1", one, Role.OFFICER)
    supervisor = await enrol(db, engine, "s-nd", nam_dan, Role.SUPERVISOR, name="Lê Minh Tuấn")

    await officer.press("m:evaluation")
    assert "Evaluation 2025: Xã Một" in officer.text
    assert "TEMPLATE" in officer.text and "Self-assessment due 30/11/2025." in officer.text
    await officer.press("ev:c:0")
    assert "Maximum: 20 points." in officer.text
    assert "Evidence asked: The plan and directives issued" in officer.text
    await officer.say("25")
    assert "25 is more than this criterion's maximum of 20 points." in officer.text
    await officer.say("18")
    await officer.say("Kế hoạch 12/KH-UBND")
    for i, points in enumerate(("15", "12", "16", "8", "7"), 1):
        await officer.press(f"ev:c:{i}")
        await officer.say(points)
        await officer.press("evf:skip")
    assert "1. Leadership and own plan (template) (max 20): 18" in officer.text
    await officer.press("ev:sub")
    assert "Submitted to your superior." in officer.text and "Submitted: 76 points." in (
        officer.text
    )

    await supervisor.press("m:evaluation")
    assert "Evaluation 2025: units below Huyện Nam Đàn" in supervisor.text
    assert "1. Xã Một: 76 (submitted, to decide)" in supervisor.text
    assert "Not submitted (1): Xã Hai" in supervisor.text
    async with db.sessions() as s:
        eid = (await s.execute(select(Evaluation.id))).scalar_one()
    await supervisor.press(f"ev:r:{eid}")
    assert "evidence: Kế hoạch 12/KH-UBND" in supervisor.text
    await supervisor.press(f"ev:a:{eid}:0")
    await supervisor.say("14")
    await supervisor.say("Ban Chỉ đạo chưa kiện toàn")
    assert "→ 14" in supervisor.text
    await supervisor.press(f"ev:d:{eid}")
    assert "differs from the self-assessment (76)" in supervisor.text
    await supervisor.say("Hạ điểm tiêu chí 1")
    assert "Decided: 72 points, Good." in supervisor.text
    await supervisor.press("ev:x")
    doc = supervisor.last[0].document
    assert doc is not None
    sheet = load_workbook(io.BytesIO(doc)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][:8] == (1, "nd-01", "Xã Một", "commune", "decided", 76, 72, "Good")
    assert rows[2][1:5] == ("nd-02", "Xã Hai", "commune", "not started")

    # After the deadline, the second commune's officer is refused.
    async with db.sessions() as s:
        two = await by_code(s, "nd-02")
    assert two is not None
    late = await enrol(db, engine, "o-2", two, Role.OFFICER)
    clock.now = dt.datetime(2025, 12, 2, 2, tzinfo=dt.UTC)
    await late.press("ev:c:0")
    await late.say("10")
    assert "The deadline for Xã Hai was 30/11/2025; the self-assessment is closed." in late.text
