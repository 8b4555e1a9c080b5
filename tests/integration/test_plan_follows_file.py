"""Import that follows the plan file: dropped tasks and assignments retire (history kept,
out of progress, reminders and digests, shown as retired in exports), cadences only
from the text, inferred values marked "(dự kiến)"; on real PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from db.checkins import append_checkin, assignment_progress, progress_in_subtree
from db.plan_import import SHIPPED_PLAN
from db.progress import province_progress
from db.reminders import reminder_candidates
from db.session import Database, UnitOfWork
from db.units import by_code
from handlers.checkin import deadline_text, target_text
from handlers.i18n import current_language, set_language
from handlers.reminders import reminder_messages
from scheduler.reminders import due_date, scheduled_kind
from tests.integration.import_support import import_plan, rows, scalar

PLAN_TEXT = SHIPPED_PLAN.read_text(encoding="utf-8")


def _without_task(code: str) -> str:
    """The shipped plan file without the task ``code`` (from its line to the next task)."""
    start = PLAN_TEXT.index(f"  - code: {code}\n")
    end = PLAN_TEXT.index("  - code: ", start + 1)
    return PLAN_TEXT[:start] + PLAN_TEXT[end:]


@pytest.fixture
def vietnamese() -> Iterator[None]:
    previous = current_language()
    set_language("vi")
    yield
    set_language(previous)


async def _assignment_id(db: Database, task: str, unit: str) -> int:
    return int(
        await scalar(
            db,
            "SELECT a.id FROM assignment a JOIN task t ON t.id = a.task_id"
            " JOIN unit u ON u.id = a.unit_id WHERE t.code = :task AND u.code = :unit",
            task=task,
            unit=unit,
        )
    )


async def _check_in(db: Database, assignment_id: int) -> None:
    async with UnitOfWork(db) as uow:
        await uow.session.execute(text("INSERT INTO member (id, full_name) VALUES (1, 'A')"))
        await append_checkin(
            uow.session,
            assignment_id=assignment_id,
            member_id=1,
            at=dt.datetime(2025, 5, 1, 3, tzinfo=dt.UTC),
            status="in_progress",
        )
        await uow.commit()


async def test_a_task_dropped_from_the_file_retires_and_comes_back(
    db: Database, tmp_path: Path
) -> None:
    await import_plan(db, SHIPPED_PLAN)
    host = await _assignment_id(db, "festival-host-selection", "do-luong")
    await _check_in(db, host)
    path = tmp_path / "plan.yaml"
    path.write_text(_without_task("festival-host-selection"), encoding="utf-8")

    report = await import_plan(db, path)

    assert (report.retired_tasks, report.retired_assignments) == (1, 1)
    assert await scalar(db, "SELECT count(*) FROM checkin WHERE assignment_id = :a", a=host) == 1
    today = dt.date(2025, 5, 5)  # five days before its deadline: a reminder candidate if live
    async with db.sessions() as session:
        province = await by_code(session, "nghe-an")
        assert province is not None
        live = await progress_in_subtree(session, province)
        every = await progress_in_subtree(session, province, include_retired=True)
        candidates = await reminder_candidates(session, today, horizon_days=7, overdue_max_days=30)
        tasks = {p.code for p in await province_progress(session, today=today)}
        card = await assignment_progress(session, host)
    assert host not in {a.assignment_id for a in live}
    assert host not in {a.assignment_id for a in candidates}
    assert "festival-host-selection" not in tasks and len(tasks) == 35
    assert len(live) == 423 and len(every) == 424
    retired = [a for a in every if a.assignment_id == host]
    assert retired[0].retired and retired[0].latest is not None  # history kept
    assert card is None  # its card and check-in buttons are gone
    audit = await rows(db, "SELECT data->'retired' FROM audit ORDER BY id")
    assert audit[-1] == ({"tasks": 1, "assignments": 1},)

    # Importing again changes nothing; the full file brings the task back.
    again = await import_plan(db, path)
    assert (again.retired_tasks, again.retired_assignments) == (0, 0)
    await import_plan(db, SHIPPED_PLAN)
    assert await scalar(db, "SELECT count(*) FROM assignment WHERE retired_at IS NOT NULL") == 0
    assert await scalar(db, "SELECT count(*) FROM task WHERE retired_at IS NOT NULL") == 0


async def test_retired_assignments_leave_the_digest_checkins(db: Database, tmp_path: Path) -> None:
    from db.digest import recent_checkins

    await import_plan(db, SHIPPED_PLAN)
    host = await _assignment_id(db, "festival-host-selection", "do-luong")
    await _check_in(db, host)
    since = dt.datetime(2025, 4, 30, tzinfo=dt.UTC)
    until = dt.datetime(2025, 5, 2, tzinfo=dt.UTC)
    async with db.sessions() as session:
        province = await by_code(session, "nghe-an")
        assert province is not None
        before = await recent_checkins(session, province, since, until, limit=10)
    path = tmp_path / "plan.yaml"
    path.write_text(_without_task("festival-host-selection"), encoding="utf-8")
    await import_plan(db, path)
    async with db.sessions() as session:
        after = await recent_checkins(session, province, since, until, limit=10)
    assert before[0] == 1 and after[0] == 0


async def test_recurring_duties_without_a_cadence_remind_of_their_deadline_only(
    db: Database,
) -> None:
    await import_plan(db, SHIPPED_PLAN)
    training = await _assignment_id(db, "grassroots-force-training", "nam-dan")
    classification = await _assignment_id(db, "security-standard-classification", "nam-dan")
    async with db.sessions() as session:
        t = await assignment_progress(session, training)
        c = await assignment_progress(session, classification)
    assert t is not None and c is not None
    # No monthly cycle is invented: mid-year the duty is due at its deadline, 31/12.
    assert t.cadence is None and t.current_period(dt.date(2025, 5, 24)) is None
    assert due_date(t, dt.date(2025, 5, 24)) == dt.date(2025, 12, 31)
    assert scheduled_kind(t, dt.date(2025, 5, 24)) is None  # a month's end is nothing
    assert scheduled_kind(t, dt.date(2025, 12, 24)) is not None  # a week before 31/12
    # The classification is yearly, due on the districts' evaluation day, 15/12.
    assert c.current_period(dt.date(2025, 5, 24)) == "2025"
    assert due_date(c, dt.date(2025, 5, 24)) == dt.date(2025, 12, 15)
    assert scheduled_kind(c, dt.date(2025, 12, 8)) is not None


async def test_inferred_values_are_marked_in_cards_and_reminders(
    db: Database, vietnamese: None
) -> None:
    await import_plan(db, SHIPPED_PLAN)
    festival = await _assignment_id(db, "festival-2025", "do-luong")  # inferred: 19/8
    sites = await _assignment_id(db, "festival-pilot-sites", "nam-dan")  # inferred target
    stated = await _assignment_id(db, "festival-host-selection", "do-luong")
    async with db.sessions() as session:
        f = await assignment_progress(session, festival)
        s = await assignment_progress(session, sites)
        h = await assignment_progress(session, stated)
    assert f is not None and s is not None and h is not None
    today = dt.date(2025, 8, 12)
    assert deadline_text(f, today).startswith("hạn 19/08/2025 (dự kiến)")
    assert target_text(s) == "1 (dự kiến)"
    assert "(dự kiến)" not in deadline_text(h, today)
    reminder = reminder_messages(f, f.deadline, today)[0].text
    assert "19/08/2025 (dự kiến)" in reminder


async def test_the_export_shows_retired_assignments_as_retired(
    db: Database, tmp_path: Path, vietnamese: None
) -> None:
    import csv
    import io
    import zipfile

    from handlers.export import write_export

    await import_plan(db, SHIPPED_PLAN)
    host = await _assignment_id(db, "festival-host-selection", "do-luong")
    await _check_in(db, host)
    path = tmp_path / "plan.yaml"
    path.write_text(_without_task("festival-host-selection"), encoding="utf-8")
    await import_plan(db, path)
    out = io.BytesIO()
    async with db.sessions() as session:
        do_luong = await by_code(session, "do-luong")
        assert do_luong is not None
        await write_export(
            session,
            do_luong,
            out,
            first=dt.date(2025, 4, 1),
            last=dt.date(2025, 5, 5),
            fmt="csv",
            now=dt.datetime(2025, 5, 5, 3, tzinfo=dt.UTC),
        )
    raw = zipfile.ZipFile(out).read("progress.csv").decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(raw)))
    status = {r[2]: r[6] for r in rows[1:]}
    host_title = next(k for k in status if k.startswith("Lựa chọn 01 xã (thị trấn) tổ chức"))
    assert status[host_title] == "đã bãi bỏ"
    assert "đã bãi bỏ" not in {v for k, v in status.items() if k != host_title}


async def test_a_reimport_keeps_what_a_merge_passed_to_a_new_unit(
    db: Database, tmp_path: Path
) -> None:
    # Đô Lương (no units below it in the plan file) merges into a new district; the new
    # district is in no plan file, yet the work it took over is still owed after the
    # plan is imported again.
    from tests.integration.reorg_support import AFTER, HEADER, run_mapping, write

    await import_plan(db, SHIPPED_PLAN)
    mapping = HEADER + "do-luong,do-luong-moi,01/07/2025,Huyện Đô Lương mới,district,nghe-an\n"
    await run_mapping(db, write(tmp_path, mapping), now=AFTER)
    moved = await _assignment_id(db, "festival-host-selection", "do-luong-moi")

    report = await import_plan(db, SHIPPED_PLAN)

    assert report.retired_assignments == 0
    assert await scalar(db, "SELECT retired_at FROM assignment WHERE id = :i", i=moved) is None
