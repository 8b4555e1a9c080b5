"""/progress for supervisors on real PostgreSQL: roll-ups, laggards first, drill-down, scope;
and the repository queries the daily digest reuses (db.checkins)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import event

from db.checkins import Progress, append_checkin, progress_in_subtree, unit_rollup
from db.models import Member, Role, TaskKind, Unit, UnitKind
from db.session import Database
from tests.integration.plan_fixtures import (
    START,
    World,
    add_task,
    add_unit,
    assign,
    enrol,
    make_engine,
    make_world,
)
from tests.support import Clock, Person

D = dt.date
TODAY = D(2025, 5, 5)  # START in Hồ Chí Minh City


@dataclass(frozen=True)
class Plan:
    world: World
    festival: dict[str, int]  # unit code -> assignment id
    schools: dict[str, int]


async def make_plan(db: Database) -> Plan:
    """Festival (milestone, due 01/05: overdue) and schools (count, target 2) for communes
    A, B, C of Nam Đàn and E of Con Cuông. A has done both; C the festival and 1 school; B
    nothing; E nothing."""
    world = await make_world(db)
    festival_task = await add_task(db, world, TaskKind.MILESTONE, "Ngày hội", "Festival", sort=1)
    schools_task = await add_task(db, world, TaskKind.COUNT, "Trường", "Model schools", sort=2)
    festival, schools = {}, {}
    for unit in (world.a, world.b, world.c, world.e):
        festival[unit.code] = await assign(db, festival_task, unit, D(2025, 5, 1))
        schools[unit.code] = await assign(db, schools_task, unit, D(2025, 12, 31), target=2)
    async with db.sessions() as s:
        member = Member(full_name="Cán bộ")
        s.add(member)
        await s.flush()
        for aid, status, value in [
            (festival["xa-a"], "done", None),
            (schools["xa-a"], "done", Decimal(2)),
            (festival["xa-c"], "done", None),
            (schools["xa-c"], "in_progress", Decimal(1)),
        ]:
            await append_checkin(
                s, assignment_id=aid, member_id=member.id, at=START, status=status, value=value
            )
        await s.commit()
    return Plan(world, festival, schools)


async def supervisor(
    db: Database, plan: Plan, user: str = "50", *, role: Role = Role.SUPERVISOR, top: bool = False
) -> Person:
    unit = plan.world.province if top else plan.world.district
    return await enrol(db, make_engine(db, Clock(START)), user, unit, role)


def ids(person: Person, prefix: str = "pg:u:") -> list[str]:
    return [c for c in person.choices if c.startswith(prefix)]


async def test_district_rollup_over_communes_laggards_first(db: Database) -> None:
    plan = await make_plan(db)
    w = plan.world
    person = await supervisor(db, plan)
    await person.say("/progress")
    text = person.text
    assert "Progress: Huyện Nam Đàn" in text and "As of 05/05/2025." in text
    assert "3/6 assignments done, 1 overdue." in text
    b = text.index("Xã Nam Bình: 0/2 assignments done (0%), 1 overdue")
    c = text.index("Xã Nam Cát: 1/2 assignments done (50%)")
    a = text.index("Xã Nam Anh: 2/2 assignments done (100%)")
    assert b < c < a
    assert "Model schools: 1/3 units done (33%)" in text
    assert "Festival: 2/3 units done (67%), 1 overdue" in text
    assert text.index("Festival: 2/3") < text.index("Model schools: 1/3")  # overdue first
    assert "Môn Sơn" not in text and "Con Cuông" not in text
    assert ids(person) == [f"pg:u:{w.b.id}", f"pg:u:{w.c.id}", f"pg:u:{w.a.id}"]


async def test_drill_into_a_commune(db: Database) -> None:
    plan = await make_plan(db)
    w = plan.world
    person = await supervisor(db, plan)
    await person.say("/progress")
    await person.press(f"pg:u:{w.c.id}")
    text = person.text
    assert "Progress: Xã Nam Cát" in text
    assert "Model schools" in text and "target 2 · reported: 1/2 · in progress" in text
    assert "deadline 31/12/2025 (240 days left)" in text
    assert "Festival" in text and "reported: done · done · deadline 01/05/2025" in text
    assert text.index("Model schools") < text.index("Festival")  # done last
    assert f"pg:u:{w.district.id}" in person.choices  # back up, still in scope
    await person.press(f"pg:u:{w.b.id}")
    text = person.text
    assert "❗" in text and "overdue · deadline 01/05/2025 (4 days overdue)" in text
    assert text.index("Festival") < text.index("Model schools")  # overdue first


async def test_district_supervisor_sees_only_its_district(db: Database) -> None:
    plan = await make_plan(db)
    w = plan.world
    person = await supervisor(db, plan)
    await person.say("/progress con-cuong")
    assert "outside your area" in person.text and "Con Cuông" not in person.text
    assert ids(person) == [f"pg:u:{w.district.id}"]
    await person.say("/progress Môn Sơn")
    assert "No unit in your area matches “Môn Sơn”" in person.text
    for forged in (f"pg:u:{w.e.id}", f"pg:u:{w.province.id}", f"pg:u:{w.other_district.id}:0"):
        await person.press(forged)
        assert "outside your area" in person.text and "Môn Sơn" not in person.text
    await person.press("pg:u:abc")
    assert "no longer valid" in person.text
    await person.press(f"pg:u:{w.district.id}")
    assert f"pg:u:{w.province.id}" not in person.choices  # no way up out of scope


async def test_progress_by_code_or_name(db: Database) -> None:
    plan = await make_plan(db)
    w = plan.world
    person = await supervisor(db, plan)
    await person.say("/progress xa-b")
    assert "Progress: Xã Nam Bình" in person.text
    await person.say("/progress nam binh")
    assert "Progress: Xã Nam Bình" in person.text
    await person.say("/progress NAM")
    assert "Several units match" in person.text
    assert {f"pg:u:{w.a.id}", f"pg:u:{w.b.id}", f"pg:u:{w.c.id}"} <= set(ids(person))
    assert f"pg:u:{w.e.id}" not in ids(person)


async def test_province_supervisor_rolls_up_districts(db: Database) -> None:
    plan = await make_plan(db)
    w = plan.world
    person = await supervisor(db, plan, top=True)
    await person.say("/start")
    await person.press("m:progress")
    text = person.text
    assert "Progress: Tỉnh Nghệ An" in text
    con_cuong = text.index("Huyện Con Cuông: 0/2 assignments done (0%), 1 overdue")
    nam_dan = text.index("Huyện Nam Đàn: 3/6 assignments done (50%), 1 overdue")
    assert con_cuong < nam_dan
    assert "Festival: 2/4 units done (50%), 2 overdue" in text
    assert ids(person) == [f"pg:u:{w.other_district.id}", f"pg:u:{w.district.id}"]


async def test_admin_may_follow_progress(db: Database) -> None:
    plan = await make_plan(db)
    person = await supervisor(db, plan, role=Role.ADMIN, top=True)
    await person.say("/progress nam-dan")
    assert "Progress: Huyện Nam Đàn" in person.text


async def test_officers_and_citizens_are_refused(db: Database) -> None:
    plan = await make_plan(db)
    w = plan.world
    officer = await enrol(db, make_engine(db, Clock(START)), "60", w.a, Role.OFFICER)
    await officer.say("/start")
    assert "m:progress" not in officer.choices
    await officer.say("/progress")
    assert "for supervisors" in officer.text and "Xã Nam Anh: " not in officer.text
    citizen = Person(make_engine(db, Clock(START)), "61", language_code="en")
    await citizen.press(f"pg:u:{w.a.id}")
    assert "for supervisors" in citizen.text and "Progress:" not in citizen.text


async def test_help_describes_progress(db: Database) -> None:
    plan = await make_plan(db)
    person = await supervisor(db, plan)
    await person.say("/help")
    assert "/progress: progress of a unit in your area" in person.text
    assert "m:progress" in person.choices and "m:tasks" in person.choices


async def test_child_buttons_page_by_ten_and_the_summary_fits_a_screen(db: Database) -> None:
    world = await make_world(db)
    task = await add_task(db, world, TaskKind.MILESTONE, "Ngày hội", "Festival")
    async with db.sessions() as s:
        extra = [
            await add_unit(s, f"x{i}", f"Xã Thêm {i:02d}", UnitKind.COMMUNE, world.district)
            for i in range(22)
        ]
        await s.commit()
    communes = [world.a, world.b, world.c, *extra]
    for unit in communes:
        await assign(db, task, unit, D(2025, 12, 31))
    person = await enrol(db, make_engine(db, Clock(START)), "70", world.district, Role.SUPERVISOR)
    await person.say("/progress")
    assert len(person.last) == 1 and len(person.last[0].text) <= 1000
    by_name = sorted(communes, key=lambda u: u.name)
    assert ids(person) == [*(f"pg:u:{u.id}" for u in by_name[:10]), f"pg:u:{world.district.id}:1"]
    # 25 lines do not fit one screen: the summary names the first and counts the rest.
    assert "Xã Nam Anh" in person.text and "…and " in person.text
    assert "Xã Thêm 21" not in person.text
    assert f"pg:k:{world.district.id}:0" in person.choices
    await person.press(f"pg:u:{world.district.id}:2")
    assert ids(person) == [
        *(f"pg:u:{u.id}" for u in by_name[20:]),
        f"pg:u:{world.district.id}:1",
    ]


# --- the queries the digest reuses -------------------------------------------------------


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)


async def test_latest_values_for_a_subtree_in_one_query(db: Database) -> None:
    plan = await make_plan(db)
    w = plan.world
    async with db.sessions() as s:
        district = await s.get(Unit, w.district.id)
        assert district is not None
        with statements(db) as seen:
            rows = await progress_in_subtree(s, district)
    assert len(seen) == 1, seen
    assert {r.assignment_id for r in rows} == {
        *(plan.festival[c] for c in ("xa-a", "xa-b", "xa-c")),
        *(plan.schools[c] for c in ("xa-a", "xa-b", "xa-c")),
    }
    by_id = {r.assignment_id: r for r in rows}
    latest = by_id[plan.schools["xa-c"]].latest
    assert latest is not None and latest.value == Decimal(1)
    assert by_id[plan.schools["xa-b"]].latest is None
    assert by_id[plan.festival["xa-b"]].progress(TODAY) == Progress.OVERDUE


async def test_unit_rollup_per_child(db: Database) -> None:
    plan = await make_plan(db)
    w = plan.world
    async with db.sessions() as s:
        province = await s.get(Unit, w.province.id)
        assert province is not None
        rollup = await unit_rollup(s, province, TODAY)
    assert [(r.label, r.total, r.done, r.overdue) for r in rollup] == [
        ("Huyện Con Cuông", 2, 0, 1),
        ("Huyện Nam Đàn", 6, 3, 1),
    ]
    assert rollup[1].share == 0.5
