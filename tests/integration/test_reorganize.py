"""``antt unit reorganize`` on real PostgreSQL: merges, ends, grants, tips, invites,
dry run, idempotence, future dates, and every kind of bad mapping refused whole."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from db.checkins import CheckinStatus, append_checkin, progress_in_subtree
from db.models import Identity, Invite, Member, Role, RoleGrant, Subscription, TaskKind, TipStatus
from db.reminders import reminder_candidates
from db.reorg_file import ReorganizeError
from db.session import Database
from db.units import by_code
from tests.integration.import_support import in_english
from tests.integration.plan_fixtures import World, add_task, assign, enrol, make_engine, make_world
from tests.integration.reorg_support import (
    AFTER,
    HEADER,
    JULY_1,
    MERGE_ALL,
    add_tip,
    dump,
    rows,
    run_due,
    run_mapping,
    write,
)
from tests.support import Clock, Person

D = dt.date
BEFORE = dt.datetime(2025, 6, 1, 1, 0, tzinfo=dt.UTC)  # 01/06/2025 08:00 local


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    yield from in_english()


async def checkin(db: Database, assignment_id: int, member_id: int, **values: object) -> None:
    async with db.sessions() as s:
        await append_checkin(
            s,
            assignment_id=assignment_id,
            member_id=member_id,
            at=dt.datetime(2025, 6, 20, 3, 0, tzinfo=dt.UTC),
            **values,  # type: ignore[arg-type]
        )
        await s.commit()


async def a_member(db: Database, name: str = "Phan Văn Kiểm") -> int:
    async with db.sessions() as s:
        member = Member(full_name=name)
        s.add(member)
        await s.commit()
        return member.id


async def work(db: Database, world: World) -> dict[str, int]:
    """Assignments in xa-a, xa-b and the district, some with check-ins."""
    cams = await add_task(db, world, TaskKind.COUNT, "Lắp camera", "Install cameras")
    drug = await add_task(db, world, TaskKind.MILESTONE, "Hồ sơ sạch ma túy", "Drug-free file")
    train = await add_task(db, world, TaskKind.PERCENT, "Tập huấn", "Training")
    report = await add_task(db, world, TaskKind.REPORT, "Báo cáo năm", "Yearly report")
    ids = {
        "cams_a": await assign(db, cams, world.a, D(2025, 9, 30), 20),
        "cams_b": await assign(db, cams, world.b, D(2025, 8, 31), 12),
        "drug_a": await assign(db, drug, world.a, D(2025, 6, 30)),
        "drug_b": await assign(db, drug, world.b, D(2025, 12, 31)),
        "train_a": await assign(db, train, world.a, D(2025, 10, 1), 80),
        "train_b": await assign(db, train, world.b, D(2025, 10, 1), 90),
        "report_district": await assign(db, report, world.district, D(2025, 12, 15)),
    }
    member = await a_member(db)
    await checkin(db, ids["cams_a"], member, status=None, value=Decimal(8))
    await checkin(db, ids["drug_a"], member, status=CheckinStatus.DONE.value)
    await checkin(db, ids["report_district"], member, status=CheckinStatus.IN_PROGRESS.value)
    async with db.sessions() as s:
        from db.models import Assignment

        row = await s.get(Assignment, ids["cams_b"])
        assert row is not None
        row.note = "ưu tiên xóm 3"
        await s.commit()
    return ids


# --- merge ----------------------------------------------------------------------------


async def test_merge_passes_open_assignments_to_the_successor(db: Database, tmp_path: Path) -> None:
    world = await make_world(db)
    ids = await work(db, world)
    report = await run_mapping(db, write(tmp_path, MERGE_ALL))

    moi = await rows(
        db,
        "SELECT u.name, u.kind, p.code, u.valid_from FROM unit u JOIN unit p ON p.id = u.parent_id"
        " WHERE u.code = 'xa-moi'",
    )
    assert moi == [("Xã Nam Mới", "commune", "nghe-an", JULY_1)]
    closed = await rows(
        db,
        "SELECT u.code, u.valid_to, r.code FROM unit u LEFT JOIN unit r ON r.id = u.replaced_by_id"
        " WHERE u.valid_to IS NOT NULL ORDER BY u.code",
    )
    assert closed == [
        ("nam-dan", JULY_1, None),
        ("tt-d", JULY_1, "xa-moi"),
        ("xa-a", JULY_1, "xa-moi"),
        ("xa-b", JULY_1, "xa-moi"),
        ("xa-c", JULY_1, "xa-moi"),
    ]
    # The successor owes: cameras 20 + 12 (earliest deadline, note kept), the drug-free
    # file of xa-b only (xa-a's was done), training at the higher share of 80 and 90.
    owed = await rows(
        db,
        "SELECT t.title_vi, a.target, a.deadline, a.note FROM assignment a"
        " JOIN task t ON t.id = a.task_id JOIN unit u ON u.id = a.unit_id"
        " WHERE u.code = 'xa-moi' ORDER BY t.id",
    )
    assert owed == [
        ("Lắp camera", Decimal("32.00"), D(2025, 8, 31), "ưu tiên xóm 3"),
        ("Hồ sơ sạch ma túy", None, D(2025, 12, 31), None),
        ("Tập huấn", Decimal("90.00"), D(2025, 10, 1), None),
    ]
    old = {
        aid: (closed_on, moved)
        for aid, closed_on, moved in await rows(
            db, "SELECT id, closed_on, moved_to_id IS NOT NULL FROM assignment"
        )
    }
    assert old[ids["cams_a"]] == (JULY_1, True)
    assert old[ids["cams_b"]] == (JULY_1, True)
    assert old[ids["drug_a"]] == (JULY_1, False)  # done: closes as done, not passed on
    assert old[ids["drug_b"]] == (JULY_1, True)
    # Check-ins stay where they were made.
    made = await rows(db, "SELECT assignment_id FROM checkin ORDER BY assignment_id")
    assert made == sorted([(ids["cams_a"],), (ids["drug_a"],), (ids["report_district"],)])
    counts = report.changes.counts()
    assert counts["units_opened"] == 1 and counts["units_closed"] == 5
    assert counts["assignments_moved"] == 5
    assert counts["assignments_closed"] == 2  # drug_a (done) and the district's report


async def test_a_district_that_ends_keeps_its_history_out_of_what_is_owed(
    db: Database, tmp_path: Path
) -> None:
    world = await make_world(db)
    ids = await work(db, world)
    report = await run_mapping(db, write(tmp_path, MERGE_ALL))
    closed = [c for c in report.changes.assignments_closed if c.unit == "nam-dan"]
    assert [(c.status) for c in closed] == ["in_progress"]
    async with db.sessions() as s:
        province = await by_code(s, "nghe-an")
        assert province is not None
        owed = await progress_in_subtree(s, province)
        history = await progress_in_subtree(s, province, include_closed=True)
        reminders = await reminder_candidates(
            s, D(2025, 12, 15), horizon_days=7, overdue_max_days=400
        )
    assert ids["report_district"] not in {r.assignment_id for r in owed}
    assert ids["report_district"] in {r.assignment_id for r in history}
    district_row = next(r for r in history if r.assignment_id == ids["report_district"])
    assert district_row.latest is not None
    assert district_row.latest.status == "in_progress"
    # No reminder for anything closed, only for what the successor owes.
    assert {r.unit_code for r in reminders} == {"xa-moi"}


# --- grants ---------------------------------------------------------------------------


async def test_grants_move_with_a_merge_and_end_with_the_district(
    db: Database, tmp_path: Path
) -> None:
    world = await make_world(db)
    engine = make_engine(db, Clock(AFTER))
    await enrol(db, engine, "officer", world.a, Role.OFFICER, name="Trần Văn Hùng")
    await enrol(db, engine, "chief", world.district, Role.SUPERVISOR, name="Lê Minh Tuấn")
    admin = await enrol(db, engine, "admin", world.province, Role.ADMIN, name="Phạm Quốc Bảo")
    await enrol(db, engine, "other-admin", world.other_district, Role.ADMIN, name="Khác")
    await run_mapping(db, write(tmp_path, MERGE_ALL))

    active = await rows(
        db,
        "SELECT m.full_name, g.role, u.code FROM role_grant g JOIN member m ON m.id = g.member_id"
        " JOIN unit u ON u.id = g.unit_id WHERE g.revoked_at IS NULL ORDER BY m.full_name",
    )
    assert active == [
        ("Khác", "admin", "con-cuong"),
        ("Phạm Quốc Bảo", "admin", "nghe-an"),
        ("Trần Văn Hùng", "officer", "xa-moi"),
    ]
    # The province admin (above the district) hears once; the other district's does not.
    notices = await rows(
        db,
        "SELECT i.external_id, o.payload FROM outbox o JOIN identity i ON i.id = o.identity_id",
    )
    assert [who for who, _p in notices] == ["admin"]
    message = notices[0][1]["messages"][0]
    assert "Lê Minh Tuấn" in message["text"] and "Huyện Nam Đàn" in message["text"]
    assert "Trần Văn Hùng" not in message["text"]
    button = message["choices"][0][0]

    # The button lets the admin give the supervisor a role in an open unit.
    await admin.press(button)
    assert "Which unit" in admin.text
    await admin.say("Huyện Nam Đàn")  # closed: not offered
    assert "No open unit" in admin.text
    await admin.say("Môn Sơn")
    assert "Which role" in admin.text
    await admin.press(admin.choice_labelled("supervisor"))
    assert "Lê Minh Tuấn" in admin.text and "Xã Môn Sơn" in admin.text
    granted = await rows(
        db,
        "SELECT g.role, u.code, g.granted_by IS NOT NULL FROM role_grant g"
        " JOIN member m ON m.id = g.member_id JOIN unit u ON u.id = g.unit_id"
        " WHERE m.full_name = 'Lê Minh Tuấn' AND g.revoked_at IS NULL",
    )
    assert granted == [("supervisor", "xa-e", True)]


async def test_a_forged_regrant_button_is_refused(db: Database, tmp_path: Path) -> None:
    world = await make_world(db)
    engine = make_engine(db, Clock(AFTER))
    await enrol(db, engine, "officer", world.e, Role.OFFICER, name="Không mất vai trò")
    admin = await enrol(db, engine, "admin", world.province, Role.ADMIN)
    async with db.sessions() as s:
        member_id = (
            await s.execute(
                RoleGrant.__table__.select().where(RoleGrant.unit_id == world.e.id)  # type: ignore[attr-defined]
            )
        ).first()[1]
    await admin.press(f"ucg:{member_id}")
    assert "no longer valid" in admin.text


# --- tips and invites -----------------------------------------------------------------


async def test_open_tips_move_to_the_successor_with_a_note(db: Database, tmp_path: Path) -> None:
    world = await make_world(db)
    open_tip = await add_tip(db, world.a)
    handled = await add_tip(db, world.b, TipStatus.ACKNOWLEDGED)
    closed_tip = await add_tip(db, world.a, TipStatus.CLOSED)
    district_tip = await add_tip(db, world.district)
    await run_mapping(db, write(tmp_path, MERGE_ALL))
    where = dict(await rows(db, "SELECT t.id, u.code FROM tip t JOIN unit u ON u.id = t.unit_id"))
    assert where == {
        open_tip: "xa-moi",
        handled: "xa-moi",
        closed_tip: "xa-a",  # history stays with the unit it was made for
        district_tip: "nghe-an",  # no successor: the nearest open unit above
    }
    events = await rows(
        db, "SELECT tip_id, kind, public, data->>'from', data->>'to' FROM tip_event ORDER BY tip_id"
    )
    assert events == [
        (open_tip, "moved", False, "Xã Nam Anh", "Xã Nam Mới"),
        (handled, "moved", False, "Xã Nam Bình", "Xã Nam Mới"),
        (district_tip, "moved", False, "Huyện Nam Đàn", "Tỉnh Nghệ An"),
    ]


async def test_invites_follow_the_successor_or_are_revoked(db: Database, tmp_path: Path) -> None:
    world = await make_world(db)
    async with db.sessions() as s:
        for n, unit in enumerate((world.a, world.district)):
            s.add(
                Invite(
                    code_hash=f"h{n}",
                    unit_id=unit.id,
                    role="officer",
                    expires_at=AFTER + dt.timedelta(days=10),
                )
            )
        await s.commit()
    await run_mapping(db, write(tmp_path, MERGE_ALL))
    invites = await rows(
        db,
        "SELECT i.code_hash, u.code, i.revoked_at IS NOT NULL FROM invite i"
        " JOIN unit u ON u.id = i.unit_id ORDER BY 1",
    )
    assert invites == [("h0", "xa-moi", False), ("h1", "nam-dan", True)]


async def test_subscriptions_follow_the_successor_once(db: Database, tmp_path: Path) -> None:
    world = await make_world(db)
    async with db.sessions() as s:
        people = [
            Identity(channel="telegram", external_id=str(n), chat_id=str(n)) for n in (1, 2, 3)
        ]
        s.add_all(people)
        await s.flush()
        day = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
        # 1 follows A, 2 follows A and B (both merge into one commune), 3 follows E (stays)
        for person, unit in ((0, world.a), (1, world.a), (1, world.b), (2, world.e)):
            s.add(Subscription(identity_id=people[person].id, unit_id=unit.id, created_at=day))
        await s.commit()
    report = await run_mapping(db, write(tmp_path, MERGE_ALL))
    found = await rows(
        db,
        "SELECT i.external_id, u.code FROM subscription s JOIN identity i ON i.id = s.identity_id"
        " JOIN unit u ON u.id = s.unit_id ORDER BY 1, 2",
    )
    assert found == [("1", "xa-moi"), ("2", "xa-moi"), ("3", "xa-e")]
    counts = report.changes.counts()
    assert (counts["subscriptions_moved"], counts["subscriptions_ended"]) == (3, 0)
    again = await run_mapping(db, write(tmp_path, MERGE_ALL))
    assert again.changes.counts()["subscriptions_moved"] == 0


# --- dry run, idempotence, audit ---------------------------------------------------------


async def test_dry_run_lists_every_change_and_writes_nothing(db: Database, tmp_path: Path) -> None:
    world = await make_world(db)
    await work(db, world)
    engine = make_engine(db, Clock(AFTER))
    await enrol(db, engine, "chief", world.district, Role.SUPERVISOR, name="Lê Minh Tuấn")
    await enrol(db, engine, "admin", world.province, Role.ADMIN)
    await add_tip(db, world.a)
    before = await dump(db)
    dry = await run_mapping(db, write(tmp_path, MERGE_ALL), dry_run=True)
    assert await dump(db) == before
    real = await run_mapping(db, write(tmp_path, MERGE_ALL))
    # The dry run announced exactly what the real run then did.
    assert dry.changes.counts() == real.changes.counts()
    assert dry.changes.assignments_moved == real.changes.assignments_moved
    assert dry.changes.grants == real.changes.grants
    assert [t.from_unit for t in dry.changes.tips] == [t.from_unit for t in real.changes.tips]


async def test_applying_the_same_mapping_twice_changes_nothing(
    db: Database, tmp_path: Path
) -> None:
    world = await make_world(db)
    await work(db, world)
    await add_tip(db, world.a)
    path = write(tmp_path, MERGE_ALL)
    await run_mapping(db, path)
    after_first = await dump(db)
    audits = await rows(
        db, "SELECT action, data->>'units_closed' FROM audit WHERE action LIKE 'unit.%'"
    )
    assert audits == [("unit.reorganize", "5")]
    again = await run_mapping(db, path)
    assert again.changes.empty and not again.changed
    assert await dump(db) == after_first


# --- future dates --------------------------------------------------------------------------


async def test_a_future_mapping_waits_for_its_date(db: Database, tmp_path: Path) -> None:
    world = await make_world(db)
    ids = await work(db, world)
    tip = await add_tip(db, world.a)
    path = write(tmp_path, MERGE_ALL)
    report = await run_mapping(db, path, now=BEFORE)
    assert report.changes.empty and report.scheduled == [(JULY_1, 5)]
    assert await rows(db, "SELECT count(*) FROM unit WHERE valid_to IS NOT NULL") == [(0,)]
    assert (await run_mapping(db, path, now=BEFORE)).already_scheduled == [JULY_1]
    # The day before: nothing; on the day: applied once, however often the job runs.
    assert await run_due(db, dt.datetime(2025, 6, 30, 1, 0, tzinfo=dt.UTC)) == []
    on_the_day = dt.datetime(2025, 6, 30, 17, 30, tzinfo=dt.UTC)  # 01/07 00:30 local
    [applied] = await run_due(db, on_the_day)
    assert applied.changes.counts()["units_closed"] == 5
    assert await run_due(db, on_the_day) == []
    assert await rows(db, "SELECT status, applied_at IS NOT NULL FROM reorganization") == [
        ("applied", True)
    ]
    moved = await rows(
        db,
        "SELECT u.code FROM assignment a JOIN unit u ON u.id = a.unit_id WHERE a.id = :i",
        i=ids["cams_a"],
    )
    assert moved == [("xa-a",)]
    assert await rows(
        db, "SELECT u.code FROM tip t JOIN unit u ON u.id = t.unit_id WHERE t.id = :i", i=tip
    ) == [("xa-moi",)]


async def test_a_future_mapping_that_no_longer_fits_fails_and_says_why(
    db: Database, tmp_path: Path
) -> None:
    await make_world(db)
    await run_mapping(db, write(tmp_path, MERGE_ALL), now=BEFORE)
    # Meanwhile another file closed xa-c elsewhere.
    other = HEADER + "xa-c,xa-e,15/06/2025,,,\n"
    await run_mapping(
        db, write(tmp_path, other, "other.csv"), now=dt.datetime(2025, 6, 16, tzinfo=dt.UTC)
    )
    assert await run_due(db, AFTER) == []
    [(status, problems)] = await rows(db, "SELECT status, problems FROM reorganization")
    assert status == "failed"
    assert any("xa-c is already closed (on 15/06/2025)" in p for p in problems)
    assert await rows(db, "SELECT count(*) FROM unit WHERE code = 'xa-moi'") == [(0,)]


# --- bad input --------------------------------------------------------------------------------

BAD = [
    (
        "unknown-old",
        HEADER + "xa-zzz,xa-e,01/07/2025,,,\n",
        ["mapping.csv:2: old_code: unknown unit xa-zzz"],
    ),
    (
        "unknown-new",
        HEADER + "xa-a,xa-zzz,01/07/2025,,,\n",
        [
            "mapping.csv:2: new_code: unknown unit xa-zzz (to create it, give new_name,"
            " new_kind and new_parent)"
        ],
    ),
    (
        "successor-closed",
        HEADER + "xa-a,xa-b,01/07/2025,,,\nxa-b,xa-e,01/07/2025,,,\n",
        ["mapping.csv:2: new_code: the successor xa-b is itself closed on 01/07/2025"],
    ),
    (
        "cycle",
        HEADER + "xa-a,xa-b,01/07/2025,,,\nxa-b,xa-a,01/08/2025,,,\n",
        [
            "mapping.csv:2: new_code: the mapping has a cycle: xa-a -> xa-b -> xa-a",
            "mapping.csv:3: new_code: the successor xa-a is itself closed on 01/08/2025",
        ],
    ),
    (
        "before-valid-from",
        HEADER + "xa-e,xa-c,01/01/2020,,,\n",
        [
            "mapping.csv:2: effective_date: xa-e exists only from 01/01/2024;"
            " it cannot close on 01/01/2020"
        ],
    ),
    (
        "closed-twice",
        HEADER + "xa-a,xa-b,01/07/2025,,,\nxa-a,xa-c,01/07/2025,,,\n",
        ["mapping.csv:3: old_code: xa-a is closed twice (first at line 2)"],
    ),
    (
        "new-without-parent",
        HEADER + "xa-a,xa-moi,01/07/2025,Xã Nam Mới,commune,\n",
        ["mapping.csv:2: new_parent: the new unit xa-moi needs a parent"],
    ),
    (
        "open-units-below",
        HEADER + "nam-dan,,01/07/2025,,,\n",
        [
            "mapping.csv:2: old_code: nam-dan still has open units below it on 01/07/2025:"
            " xa-a, xa-b, xa-c, tt-d (merge or close them in the same mapping)"
        ],
    ),
    (
        "bad-date-and-kind",
        HEADER + "xa-a,xa-moi,31/06/2025,Xã Mới,hamlet,nghe-an\n",
        [
            "mapping.csv:2:3: effective_date: invalid date 31/06/2025; expected DD/MM/YYYY",
            "mapping.csv:2:5: new_kind: unknown unit kind hamlet; expected one of:",
        ],
    ),
]


@pytest.mark.parametrize(("content", "expected"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
async def test_bad_mappings_are_refused_whole(
    db: Database, tmp_path: Path, content: str, expected: list[str]
) -> None:
    world = await make_world(db)
    await work(db, world)
    async with db.sessions() as s:
        unit = await by_code(s, "xa-e")
        assert unit is not None
        unit.valid_from = D(2024, 1, 1)
        await s.commit()
    before = await dump(db)
    with pytest.raises(ReorganizeError) as refused:
        await run_mapping(db, write(tmp_path, content))
    lines = [str(issue) for issue in refused.value.issues]
    assert len(lines) == len(expected), lines
    for line, want in zip(lines, expected, strict=True):
        assert line.startswith(want), (line, want)
    assert await dump(db) == before


async def test_a_unit_already_closed_otherwise_is_refused(db: Database, tmp_path: Path) -> None:
    await make_world(db)
    await run_mapping(db, write(tmp_path, HEADER + "xa-c,xa-e,15/06/2025,,,\n"))
    before = await dump(db)
    with pytest.raises(ReorganizeError) as refused:
        await run_mapping(db, write(tmp_path, HEADER + "xa-c,xa-b,01/07/2025,,,\n"))
    assert [str(i) for i in refused.value.issues] == [
        "mapping.csv:2: old_code: xa-c is already closed (on 15/06/2025)"
    ]
    assert await dump(db) == before


async def test_old_posters_and_moved_tips_after_a_merge(db: Database, tmp_path: Path) -> None:
    world = await make_world(db)
    engine = make_engine(db, Clock(AFTER))
    officer = await enrol(db, engine, "officer", world.a, Role.OFFICER, name="Trần Văn Hùng")
    tip = await add_tip(db, world.a)
    await run_mapping(db, write(tmp_path, MERGE_ALL))
    # The officer, now of Xã Nam Mới, finds the tip in the inbox with the move noted.
    await officer.press(f"tr:open:{tip}")
    assert "Xã Nam Mới" in officer.text
    assert (
        "moved from Xã Nam Anh to Xã Nam Mới: the units were reorganised on 01/07/2025"
        in officer.text
    )
    # A poster of the old commune still works: its tips go to the successor.
    citizen = Person(engine, "citizen", language_code="en")
    await citizen.say("/start tip_xa-a")
    await citizen.press("tip:cat:other")
    await citizen.say("Có người lạ theo dõi trường học.")
    await citizen.press("tip:done")
    assert "Xã Nam Mới" in citizen.text
