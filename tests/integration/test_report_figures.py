"""Reports with figures: the district's officer submits the six-month report, confirms the
figures the system counts and types the others; the province's supervisor sees the compiled
table (who has not reported) and gets it as Excel; on real PostgreSQL, real engine."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import select, text

from db.models import ReportFigure, Role
from db.plan_import import SHIPPED_PLAN
from db.register_csv import ensure_recognition
from db.session import Database
from db.units import by_code
from handlers.types import MediaRef
from tests.integration.import_support import import_plan, import_units, scalar
from tests.integration.plan_fixtures import enrol, make_engine
from tests.support import Clock

REPORT = MediaRef("document", "report-6m", mime="application/pdf", size=2000, name="bc.pdf")


async def _setup(db: Database, tmp_path: Path) -> int:
    await import_plan(db, SHIPPED_PLAN)
    units = tmp_path / "communes.csv"
    units.write_text(
        "code,name,kind,parent_code\nnd-01,Xã Một,commune,nam-dan\nnd-02,Xã Hai,commune,nam-dan\n",
        encoding="utf-8",
    )
    await import_units(db, units)
    async with db.sessions() as s:
        for code in ("nd-01", "nd-02"):
            unit = await by_code(s, code)
            assert unit is not None
            await ensure_recognition(
                s,
                unit_id=unit.id,
                kind="drug_free",
                level=None,
                decided_by="UBND tỉnh",
                decision_no=f"9/{code}",
                decided_on=dt.date(2024, 5, 1),
                source="csv",
                actor_member_id=None,
            )
        one = await by_code(s, "nd-01")
        assert one is not None
        for n, status in enumerate(("new", "closed", "closed")):
            await s.execute(
                text(
                    "INSERT INTO tip (code_hash, category, description, unit_id, status,"
                    " anonymous, escalation_level, created_at)"
                    " VALUES (:h, 'drugs', 'x', :u, :st, true, 0, :at)"
                ),
                {
                    "h": f"h{n}",
                    "u": one.id,
                    "st": status,
                    "at": dt.datetime(2025, 3, 1 + n, tzinfo=dt.UTC),
                },
            )
        await s.commit()
    return int(
        await scalar(
            db,
            "SELECT a.id FROM assignment a JOIN task t ON t.id = a.task_id JOIN unit u"
            " ON u.id = a.unit_id WHERE t.code = 'report-6-months' AND u.code = 'nam-dan'",
        )
    )


async def test_figures_proposed_confirmed_typed_then_compiled(db: Database, tmp_path: Path) -> None:
    aid = await _setup(db, tmp_path)
    clock = Clock(dt.datetime(2025, 6, 5, 2, tzinfo=dt.UTC))
    engine = make_engine(db, clock)
    async with db.sessions() as s:
        nam_dan = await by_code(s, "nam-dan")
        province = await by_code(s, "nghe-an")
    assert nam_dan is not None and province is not None
    officer = await enrol(db, engine, "o-nd", nam_dan, Role.OFFICER)
    await officer.press(f"ck:n:{aid}")
    await officer.send_media(REPORT)
    assert "Figure 1 of 17: Models built" in officer.text
    assert "rcf:ok" not in officer.choices  # nothing to propose: asked
    await officer.say("3")
    seen = {}
    for _ in range(16):
        label = officer.text.split(": ", 1)[1].split("\n", 1)[0]
        if "rcf:ok" in officer.choices:
            seen[label] = officer.text.split("The system counts ", 1)[1].split(".", 1)[0]
            if label == "Tips handled":
                await officer.say("1,5")  # a correction of what the system counts
            else:
                await officer.press("rcf:ok")
        elif label == "Trainees":
            await officer.press("rcf:skip")
        else:
            await officer.say("2")
    assert seen == {
        "Units recognised as models": "0",
        "Units recognised drug-free": "2",
        "Units meeting the security-safe standard": "0",
        "Tips received from citizens": "3",
        "Tips handled": "2",
        "Targets met": "1",  # drug-free communes: none remained to recognise
    }
    await officer.press("ci:skip")  # no note
    assert "Tips handled: 1.5 (the system counts 2)" in officer.text
    assert "Trainees: —" in officer.text
    await officer.press("ci:save")
    assert "Check-in saved." in officer.text
    async with db.sessions() as s:
        figures = {
            r.code: (r.value, r.proposed) for r in (await s.execute(select(ReportFigure))).scalars()
        }
    assert len(figures) == 16  # trainees skipped
    assert figures["models-built"] == (Decimal(3), None)
    assert figures["units-drug-free"] == (Decimal(2), Decimal(2))
    assert figures["tips-closed"] == (Decimal("1.5"), Decimal(2))

    supervisor = await enrol(db, engine, "s-tinh", province, Role.SUPERVISOR)
    await supervisor.say("/reports")
    task_id = await scalar(db, "SELECT id FROM task WHERE code = 'report-6-months'")
    assert f"rp:t:{task_id}" in supervisor.choices
    await supervisor.press(f"rp:t:{task_id}")
    assert "Under Tỉnh Nghệ An: 1 of 28 reported (0 late)." in supervisor.text
    assert "Not reported: Ban Quản lý Khu kinh tế Đông Nam, Huyện Anh Sơn, Huyện Con" in (
        supervisor.text
    )
    assert "and 17 more units" in supervisor.text
    assert "• Units recognised drug-free: 2" in supervisor.text
    await supervisor.press(f"rp:x:{task_id}")
    doc = supervisor.last[0].document
    assert doc is not None
    sheet = load_workbook(io.BytesIO(doc)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:5] == ("Unit code", "Unit", "Reported at", "Late", "Models built")
    assert len(rows) == 1 + 28 + 1  # the 28 reporting bodies and the total
    nd = next(r for r in rows if r[0] == "nam-dan")
    assert nd[4] == 3 and not nd[3]
    assert next(r for r in rows if r[0] == "vinh")[2] == "not reported"
