"""``db.progress.province_progress`` on the shipped plan with a few check-ins."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import text

from db.plan_import import SHIPPED_PLAN
from db.progress import province_progress
from db.session import Database
from tests.integration.import_support import import_plan, rows

T0 = dt.datetime(2025, 5, 5, 2, 0, tzinfo=dt.UTC)


async def _assignment(db: Database, task: str, unit: str) -> int:
    found = await rows(
        db,
        "SELECT a.id FROM assignment a JOIN task t ON t.id = a.task_id"
        " JOIN unit u ON u.id = a.unit_id WHERE t.code = :task AND u.code = :unit",
        task=task,
        unit=unit,
    )
    return int(found[0][0])


async def _checkin(
    db: Database,
    assignment_id: int,
    minutes: int,
    *,
    status: str | None = None,
    value: str | None = None,
    eligible: int | None = None,
    supersedes: int | None = None,
    period: str | None = None,
) -> int:
    async with db.engine.begin() as conn:
        member = (
            await conn.execute(text("SELECT id FROM member ORDER BY id LIMIT 1"))
        ).scalar_one_or_none()
        if member is None:
            member = (
                await conn.execute(
                    text("INSERT INTO member (full_name) VALUES ('Cán bộ') RETURNING id")
                )
            ).scalar_one()
        return int(
            (
                await conn.execute(
                    text(
                        "INSERT INTO checkin (assignment_id, member_id, status, value, eligible,"
                        " supersedes_id, period, created_at)"
                        " VALUES (:a, :m, :s, :v, :e, :sup, :p, :at)"
                        " RETURNING id"
                    ),
                    {
                        "a": assignment_id,
                        "m": member,
                        "s": status,
                        "v": Decimal(value) if value is not None else None,
                        "e": eligible,
                        "sup": supersedes,
                        "p": period,
                        "at": T0 + dt.timedelta(minutes=minutes),
                    },
                )
            ).scalar_one()
        )


async def test_progress_counts_latest_checkins(db: Database) -> None:
    await import_plan(db, SHIPPED_PLAN)

    # milestone: done in Vĩnh Tân; "in progress" then "done" then corrected back in Hưng Lộc
    await _checkin(db, await _assignment(db, "model-ward-police", "vinh-tan"), 1, status="done")
    hung_loc = await _assignment(db, "model-ward-police", "hung-loc")
    await _checkin(db, hung_loc, 1, status="in_progress")
    wrong = await _checkin(db, hung_loc, 2, status="done")
    await _checkin(db, hung_loc, 3, status="in_progress", supersedes=wrong)
    # count (target 7 for the provincial police): 8 is done
    await _checkin(
        db, await _assignment(db, "typical-province-level-units", "cong-an-tinh"), 1, value="8"
    )
    # count (target 2 per district): 1 is not done
    await _checkin(db, await _assignment(db, "typical-agencies", "vinh"), 1, value="1")
    # percent (target 30): 4 of 12 communes = 33.3% is done; 2 of 12 is not
    await _checkin(
        db, await _assignment(db, "typical-communes", "do-luong"), 1, value="4", eligible=12
    )
    await _checkin(
        db, await _assignment(db, "typical-communes", "tan-ky"), 1, value="2", eligible=12
    )
    # percent without eligible: the value is the share
    await _checkin(db, await _assignment(db, "typical-communes", "nam-dan"), 1, value="100")
    # report: submitted
    await _checkin(
        db, await _assignment(db, "implementation-plan", "so-gddt"), 1, status="submitted"
    )

    # recurring (quarterly): done for 2025-Q2 counts in May, not once the quarter is over
    await _checkin(
        db,
        await _assignment(db, "model-units-quarterly-report", "cong-an-tinh"),
        1,
        status="done",
        period="2025-Q2",
    )

    may, july = dt.date(2025, 5, 5), dt.date(2025, 7, 1)
    async with db.sessions() as session:
        progress = {p.code: p for p in await province_progress(session, today=may)}
        vinh_only = {p.code: p for p in await province_progress(session, "vinh", today=may)}
        assert await province_progress(session, "nowhere", today=may) == []
        in_july = {p.code: p for p in await province_progress(session, today=july)}

    quarterly = progress["model-units-quarterly-report"]
    assert (quarterly.checked_in, quarterly.done, quarterly.next_deadline) == (1, 1, None)
    quarterly = in_july["model-units-quarterly-report"]
    assert (quarterly.checked_in, quarterly.done) == (1, 0)
    assert quarterly.next_deadline == dt.date(2025, 12, 31)

    assert len(progress) == 36
    assert sum(p.assignments for p in progress.values()) == 424
    wards = progress["model-ward-police"]
    assert (wards.assignments, wards.checked_in, wards.done) == (8, 2, 1)
    assert wards.next_deadline == dt.date(2025, 12, 31)
    single = progress["typical-province-level-units"]
    assert (single.checked_in, single.done, single.next_deadline) == (1, 1, None)
    assert (progress["typical-agencies"].checked_in, progress["typical-agencies"].done) == (1, 0)
    communes = progress["typical-communes"]
    assert (communes.assignments, communes.checked_in, communes.done) == (20, 3, 2)
    report = progress["implementation-plan"]
    assert (report.assignments, report.checked_in, report.done) == (28, 1, 1)
    assert report.next_deadline == dt.date(2025, 3, 20)
    assert progress["steering-committee"].title("en").startswith("Re-form the steering")
    assert progress["steering-committee"].title("vi").startswith("Củng cố, kiện toàn")

    # Under Vinh: the city itself and its five wards only.
    assert vinh_only["model-ward-police"].assignments == 5
    assert vinh_only["typical-agencies"].assignments == 1
    assert "typical-province-level-units" not in vinh_only
    assert list(vinh_only) == [c for c in progress if c in vinh_only]  # plan order kept
