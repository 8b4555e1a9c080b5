"""Check-in rules that need the database (db.checkins): corrections, the latest row,
and which sub-units count on a given day."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update

from db.checkins import (
    active_children,
    append_checkin,
    assignment_progress,
    correctable,
    eligible_subunits,
)
from db.models import Member, TaskKind, Unit
from db.session import Database
from tests.integration.plan_fixtures import add_task, assign, make_world

T0 = dt.datetime(2025, 5, 5, 2, 0, tzinfo=dt.UTC)
TODAY = dt.date(2025, 5, 5)


async def members(db: Database, *names: str) -> list[int]:
    async with db.sessions() as s:
        rows = [Member(full_name=n) for n in names]
        s.add_all(rows)
        await s.commit()
        return [m.id for m in rows]


async def test_only_the_own_last_unsuperseded_check_in_within_24_hours_is_correctable(
    db: Database,
) -> None:
    world = await make_world(db)
    aid = await assign(db, await add_task(db, world, TaskKind.COUNT, "Đếm"), world.a, TODAY)
    first, second = await members(db, "Một", "Hai")
    async with db.sessions() as s:
        c1 = await append_checkin(s, assignment_id=aid, member_id=first, at=T0, status=None)
        await s.commit()
        found = await correctable(s, aid, first, T0 + dt.timedelta(hours=23, minutes=59))
        assert found is not None and found.id == c1.id
        assert await correctable(s, aid, first, T0 + dt.timedelta(hours=24)) is None
        assert await correctable(s, aid, second, T0) is None  # not theirs

        # A correction is itself correctable, the row it replaced no longer is.
        at = T0 + dt.timedelta(hours=1)
        c2 = await append_checkin(
            s, assignment_id=aid, member_id=first, at=at, status=None, supersedes_id=c1.id
        )
        found = await correctable(s, aid, first, at)
        assert found is not None and found.id == c2.id
        # Someone else superseded the last row: it cannot be corrected again.
        await append_checkin(
            s, assignment_id=aid, member_id=second, at=at, status=None, supersedes_id=c2.id
        )
        assert await correctable(s, aid, first, at + dt.timedelta(minutes=1)) is None
        # Two rows at the same instant: the later id is the last.
        c4 = await append_checkin(s, assignment_id=aid, member_id=second, at=at, status=None)
        c5 = await append_checkin(s, assignment_id=aid, member_id=second, at=at, status=None)
        found = await correctable(s, aid, second, at)
        assert found is not None and found.id == max(c4.id, c5.id) == c5.id
        await s.commit()


async def test_the_latest_check_in_is_the_newest_row_not_superseded(db: Database) -> None:
    world = await make_world(db)
    aid = await assign(db, await add_task(db, world, TaskKind.MILESTONE, "Mốc"), world.a, TODAY)
    [who] = await members(db, "Ba")
    async with db.sessions() as s:
        old = await append_checkin(s, assignment_id=aid, member_id=who, at=T0, status="blocked")
        mid = await append_checkin(
            s, assignment_id=aid, member_id=who, at=T0 + dt.timedelta(hours=1), status="done"
        )
        new = await append_checkin(
            s,
            assignment_id=aid,
            member_id=who,
            at=T0 + dt.timedelta(hours=2),
            status="in_progress",
            supersedes_id=mid.id,
        )
        await s.commit()
        row = await assignment_progress(s, aid)
    assert row is not None and row.latest is not None
    assert (row.latest.checkin_id, row.latest.status) == (new.id, "in_progress")
    assert old.id < mid.id < new.id


async def test_a_unit_closing_today_no_longer_counts(db: Database) -> None:
    world = await make_world(db)
    async with db.sessions() as s:
        district = await s.get(Unit, world.district.id)
        assert district is not None
        assert await eligible_subunits(s, district, TODAY) == 4  # A, B, C and ward D
        province = await s.get(Unit, world.province.id)
        assert province is not None and await eligible_subunits(s, province, TODAY) == 5
        commune = await s.get(Unit, world.a.id)
        assert commune is not None and await eligible_subunits(s, commune, TODAY) == 0
        names = [u.name for u in await active_children(s, district, TODAY)]
        assert names == ["Thị trấn Nam Đàn", "Xã Nam Anh", "Xã Nam Bình", "Xã Nam Cát"]

        for closes, counted in ((TODAY, 3), (TODAY + dt.timedelta(days=1), 4)):
            await s.execute(update(Unit).where(Unit.id == world.c.id).values(valid_to=closes))
            assert await eligible_subunits(s, district, TODAY) == counted
            children = {u.name for u in await active_children(s, district, TODAY)}
            assert ("Xã Nam Cát" in children) is (counted == 4)
