"""The demo's plan cycle (issue 15): the register, a six-month report with figures, and an
evaluation round, seeded once with the demo's history (``bot.demo_seed``).

- The register: before 2025, Kim Liên and Nam Anh were recognised as model communes
  and Nam Giang and eight others drug-free; in 2025 Nam Giang, Nam Lĩnh and Xuân Hòa
  became models. The district's "typical communes" target then reads "3 of the 10
  remaining communes (30%)", and closing the drugs tip of Nam Giang as handled asks
  whether it confirmed a case (re-appraisal of its drug-free recognition).
- The district's six-month report, submitted early by its officer, with figures.
- The 2025 evaluation round (the TEMPLATE sheet): Kim Liên has submitted its
  self-assessment, the others not yet; the supervisor can rank, review and decide.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db import evaluation as ev
from db.checkins import CheckinStatus, append_checkin
from db.members import MemberRecord
from db.models import Assignment, ReportFigure, Task, Unit
from db.register_csv import ensure_recognition
from db.units import by_code

# (unit, kind, level, deciding body, decision, date)
RECOGNITIONS = [
    ("kim-lien", "model", "province", "UBND tỉnh Nghệ An", "1520/QĐ-UBND", dt.date(2023, 6, 2)),
    ("nam-anh", "model", "district", "UBND huyện Nam Đàn", "88/QĐ-UBND", dt.date(2024, 3, 15)),
    ("nam-giang", "model", "district", "UBND huyện Nam Đàn", "41/QĐ-UBND", dt.date(2025, 3, 10)),
    ("nam-linh", "model", "district", "UBND huyện Nam Đàn", "57/QĐ-UBND", dt.date(2025, 4, 8)),
    ("xuan-hoa", "model", "district", "UBND huyện Nam Đàn", "58/QĐ-UBND", dt.date(2025, 4, 8)),
    *(
        (code, "drug_free", None, "UBND tỉnh Nghệ An", f"{2100 + i}/QĐ-UBND", dt.date(2024, 9, 20))
        for i, code in enumerate(
            [
                "nam-giang",
                "kim-lien",
                "nam-anh",
                "nam-xuan",
                "nam-linh",
                "xuan-hoa",
                "hung-tien",
                "nam-hung",
                "nam-nghia",
            ]
        )
    ),
]
# The district's six-month report: (figure code, value); sourced figures as the
# system counted them then, the others typed.
REPORT_FIGURES = {
    "models-built": 3,
    "models-maintained": 2,
    "models-spread": 1,
    "models-closed": 0,
    "units-model": 5,
    "units-drug-free": 9,
    "units-security-safe": 0,
    "training-courses": 4,
    "trainees": 310,
    "conferences": 6,
    "propaganda-sessions": 24,
    "propaganda-attendance": 2150,
    "weapons-handed-in": 7,
    "explosives-handed-in": 12,
    "tips-received": 2,
    "tips-closed": 0,
    "targets-met": 1,
}
SOURCED = {
    "units-model",
    "units-drug-free",
    "units-security-safe",
    "tips-received",
    "tips-closed",
    "targets-met",
}
KIM_LIEN_SCORES = {
    "leadership": (18, "Kế hoạch số 12/KH-UBND ngày 20/01/2025"),
    "propaganda": (17, "24 buổi, 2.150 lượt người dự"),
    "models": (18, "Quyết định 1520/QĐ-UBND công nhận điển hình"),
    "targets": (15, None),
    "reports": (8, None),
    "tips": (5, None),
}


async def seed_plan_cycle(
    session: AsyncSession,
    district_officer: MemberRecord,
    kim_lien_officer: MemberRecord,
    at: dt.datetime,
) -> None:
    """Register, report and evaluation round of the demo (no commit)."""
    for code, kind, level, body, number, day in RECOGNITIONS:
        unit = await by_code(session, code)
        assert unit is not None, code
        await ensure_recognition(
            session,
            unit_id=unit.id,
            kind=kind,
            level=level,
            decided_by=body,
            decision_no=number,
            decided_on=day,
            source="csv",
            actor_member_id=None,
        )
    assignment = (
        await session.execute(
            select(Assignment.id)
            .join(Task, Task.id == Assignment.task_id)
            .join(Unit, Unit.id == Assignment.unit_id)
            .where(Task.code == "report-6-months", Unit.code == "nam-dan")
        )
    ).scalar_one()
    row = await append_checkin(
        session,
        assignment_id=assignment,
        member_id=district_officer.id,
        at=at,
        status=CheckinStatus.SUBMITTED.value,
        note="Báo cáo sơ bộ 06 tháng (số liệu đến 30/4/2025).",
    )
    for code, value in REPORT_FIGURES.items():
        session.add(
            ReportFigure(
                checkin_id=row.id,
                code=code,
                value=Decimal(value),
                proposed=Decimal(value) if code in SOURCED else None,
            )
        )
    round_, _new = await ev.open_round(session, 2025, ev.load_sheet(), actor_member_id=None)
    kim_lien = await by_code(session, "kim-lien")
    assert kim_lien is not None
    today = at.date()
    evaluation = await ev.evaluation_for(session, round_, kim_lien, today)
    for criterion, (points, evidence) in KIM_LIEN_SCORES.items():
        await ev.score(session, round_, evaluation, criterion, Decimal(points), evidence, today)
    await ev.submit(session, round_, evaluation, kim_lien_officer.id, at, today)
