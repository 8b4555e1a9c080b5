"""Plans by year: next year's plan leaves this year's intact; views show the current year
by default and last year's on request; reminders follow this year plus last year's open
reports."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text

from db.checkins import CheckinStatus, append_checkin
from db.models import Member, Role
from db.plan_import import PlanError
from db.reminders import reminder_candidates
from db.session import Database
from db.units import by_code
from tests.integration.import_support import import_plan, in_english
from tests.integration.plan_fixtures import enrol, make_engine
from tests.support import Clock

PLAN_2025 = """
plan: {code: KH-2025, title: {vi: Kế hoạch 2025, en: Plan 2025}, year: 2025}
units:
  - {code: nghe-an, kind: province, name: Tỉnh Nghệ An}
  - {code: nam-dan, kind: district, parent: nghe-an, name: Huyện Nam Đàn}
  - {code: kim-lien, kind: commune, parent: nam-dan, name: Xã Kim Liên}
tasks:
  - code: cameras
    kind: count
    title: {vi: Lắp camera 2025, en: Cameras 2025}
    assignments:
      - {units: [kim-lien], target: 10, deadline: 2025-12-31}
reporting:
  - code: report-year
    title: {vi: Báo cáo năm 2025, en: Report for 2025}
    due: 2025-12-20
    units: [kim-lien]
"""
PLAN_2026 = """
plan: {code: KH-2026, title: {vi: Kế hoạch 2026, en: Plan 2026}, year: 2026}
units:
  - {code: nghe-an, kind: province, name: Tỉnh Nghệ An}
  - {code: nam-dan, kind: district, parent: nghe-an, name: Huyện Nam Đàn}
  - {code: kim-lien, kind: commune, parent: nam-dan, name: Xã Kim Liên}
tasks:
  - code: cameras
    kind: count
    title: {vi: Lắp camera 2026, en: Cameras 2026}
    assignments:
      - {units: [kim-lien], target: 25, deadline: 2026-06-30}
"""
JAN_2026 = dt.datetime(2026, 1, 5, 1, 0, tzinfo=dt.UTC)  # 05/01/2026 08:00 local


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    yield from in_english()


def write(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


async def year_rows(db: Database, year: int) -> list[tuple[object, ...]]:
    """Every row of one year's plan: plan, tasks, assignments, check-ins."""
    async with db.engine.connect() as conn:
        result = await conn.execute(
            text(
                "SELECT p.*, t.*, a.*, c.* FROM plan p JOIN task t ON t.plan_id = p.id"
                " JOIN assignment a ON a.task_id = t.id LEFT JOIN checkin c"
                " ON c.assignment_id = a.id WHERE p.year = :y ORDER BY t.id, a.id, c.id"
            ),
            {"y": year},
        )
        return [tuple(r) for r in result.all()]


async def assignment_of(db: Database, task_title: str) -> int:
    async with db.engine.connect() as conn:
        return int(
            (
                await conn.execute(
                    text(
                        "SELECT a.id FROM assignment a JOIN task t ON t.id = a.task_id"
                        " WHERE t.title_en = :t"
                    ),
                    {"t": task_title},
                )
            ).scalar_one()
        )


async def two_years(db: Database, tmp_path: Path) -> int:
    """Both plans imported, the 2025 cameras checked in at 6; the member's id."""
    await import_plan(db, write(tmp_path, "2025.yaml", PLAN_2025))
    async with db.sessions() as s:
        member = Member(full_name="Trần Văn Hùng")
        s.add(member)
        await s.flush()
        await append_checkin(
            s,
            assignment_id=await assignment_of(db, "Cameras 2025"),
            member_id=member.id,
            at=dt.datetime(2025, 11, 1, tzinfo=dt.UTC),
            status=None,
            value=Decimal(6),
        )
        await s.commit()
        member_id = member.id
    before = await year_rows(db, 2025)
    await import_plan(db, write(tmp_path, "2026.yaml", PLAN_2026))
    assert await year_rows(db, 2025) == before
    return member_id


async def test_next_years_plan_leaves_this_years_intact(db: Database, tmp_path: Path) -> None:
    await two_years(db, tmp_path)
    assert len(await year_rows(db, 2026)) == 1
    assert len(await year_rows(db, 2025)) == 2


async def test_a_plan_code_cannot_change_its_year(db: Database, tmp_path: Path) -> None:
    await import_plan(db, write(tmp_path, "2025.yaml", PLAN_2025))
    before = await year_rows(db, 2025)
    reused = PLAN_2026.replace("KH-2026", "KH-2025")
    with pytest.raises(PlanError) as refused:
        await import_plan(db, write(tmp_path, "again.yaml", reused))
    assert "plan KH-2025 is the 2025 plan; give the 2026 plan its own code" in str(refused.value)
    assert await year_rows(db, 2025) == before


async def test_my_tasks_show_this_year_and_last_year_on_request(
    db: Database, tmp_path: Path
) -> None:
    await two_years(db, tmp_path)
    engine = make_engine(db, Clock(JAN_2026))
    async with db.sessions() as s:
        kim_lien = await by_code(s, "kim-lien")
    assert kim_lien is not None
    officer = await enrol(db, engine, "officer", kim_lien, Role.OFFICER)
    await officer.press("m:tasks")
    assert "Cameras 2026" in officer.text and "plan 2026" in officer.text
    assert "Cameras 2025" not in officer.text
    await officer.press(officer.choice_labelled("Plan 2025"))
    assert "Cameras 2025" in officer.text and "Report for 2025" in officer.text
    assert "Cameras 2026" not in officer.text
    await officer.press(officer.choice_labelled("Plan 2026"))
    assert "Cameras 2026" in officer.text


async def test_progress_shows_this_year_and_last_year_on_request(
    db: Database, tmp_path: Path
) -> None:
    await two_years(db, tmp_path)
    engine = make_engine(db, Clock(JAN_2026))
    async with db.sessions() as s:
        kim_lien = await by_code(s, "kim-lien")
    assert kim_lien is not None
    chief = await enrol(db, engine, "chief", kim_lien, Role.SUPERVISOR)
    await chief.say("/progress")
    assert "Plan 2026." in chief.text and "Cameras 2026" in chief.text
    assert "Cameras 2025" not in chief.text
    await chief.press(chief.choice_labelled("Plan 2025"))
    assert "Plan 2025." in chief.text and "Cameras 2025" in chief.text


async def test_reminders_follow_this_year_and_last_years_open_reports(
    db: Database, tmp_path: Path
) -> None:
    member_id = await two_years(db, tmp_path)
    today = dt.date(2026, 1, 3)  # the 2025 report is 14 days overdue, the cameras 3
    async with db.sessions() as s:
        found = await reminder_candidates(s, today, horizon_days=200, overdue_max_days=400)
    # Not last year's cameras: only reports carry over into the new year.
    assert {r.title_en for r in found} == {"Cameras 2026", "Report for 2025"}
    async with db.sessions() as s:
        await append_checkin(
            s,
            assignment_id=await assignment_of(db, "Report for 2025"),
            member_id=member_id,
            at=dt.datetime(2026, 1, 2, tzinfo=dt.UTC),
            status=CheckinStatus.SUBMITTED.value,
        )
        await s.commit()
    async with db.sessions() as s:
        found = await reminder_candidates(s, today, horizon_days=200, overdue_max_days=400)
    # Still a candidate row, but done: the job sends nothing for it (is_done).
    report = next(r for r in found if r.title_en == "Report for 2025")
    assert report.is_done(today)
