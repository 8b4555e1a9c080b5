"""Deadline reminders, the reporting calendar, nudges and snoozes on real PostgreSQL.

Jobs run with a controllable clock at 07:00 local on chosen days; what they
queued is read back from the outbox (one row per key).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal

from sqlalchemy import select, update

from bot.config import Settings
from db.checkins import CheckinStatus, append_checkin, period_key
from db.models import Identity, Outbox, OutboxStatus, Role, Task, TaskKind
from db.session import Database
from handlers.types import Message, message_from_json
from scheduler.jobs import SchedulerService
from scheduler.reminders import send_checkin_nudges, send_deadline_reminders
from tests.integration.plan_fixtures import World, add_task, assign, enrol, make_engine, make_world
from tests.support import Clock, Person

HCM = dt.timezone(dt.timedelta(hours=7))
D = dt.date
DEADLINE = D(2025, 5, 20)


def at(day: dt.date, hour: int = 7, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=HCM)


def days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


class Team:
    """Officer (en) and force member (vi) of commune A; an officer of B; a supervisor."""

    def __init__(self, world: World, clock: Clock, people: dict[str, Person]) -> None:
        self.world = world
        self.clock = clock
        self.officer = people["officer"]
        self.force = people["force"]
        self.other = people["other"]
        self.supervisor = people["supervisor"]


async def make_team(db: Database) -> Team:
    world = await make_world(db)
    clock = Clock(at(DEADLINE - days(10), 9))
    engine = make_engine(db, clock)
    people = {
        "officer": await enrol(db, engine, "11", world.a, Role.OFFICER, language="en"),
        "force": await enrol(db, engine, "12", world.a, Role.FORCE, language="vi"),
        "other": await enrol(db, engine, "21", world.b, Role.OFFICER, language="en"),
        "supervisor": await enrol(db, engine, "31", world.district, Role.SUPERVISOR),
    }
    return Team(world, clock, people)


async def identity_of(db: Database, person: Person) -> Identity:
    async with db.sessions() as s:
        stmt = select(Identity).where(Identity.external_id == person.user_id)
        return (await s.execute(stmt)).scalar_one()


async def outbox(db: Database, person: Person | None = None) -> list[Outbox]:
    async with db.sessions() as s:
        stmt = select(Outbox).order_by(Outbox.id)
        if person is not None:
            stmt = stmt.join(Identity, Identity.id == Outbox.identity_id).where(
                Identity.external_id == person.user_id
            )
        return list((await s.execute(stmt)).scalars().all())


def kinds(rows: list[Outbox]) -> list[tuple[str, str]]:
    """(kind, day) of each reminder key ``rem:a:i:kind:day``."""
    return [tuple(r.dedup_key.split(":")[3:5]) for r in rows]  # type: ignore[misc]


def messages(row: Outbox) -> list[Message]:
    return [message_from_json(m) for m in row.payload["messages"]]


async def run_days(db: Database, first: dt.date, last: dt.date) -> None:
    day = first
    while day <= last:
        await send_deadline_reminders(db, Settings(), at(day))
        day += days(1)


async def check_in(
    db: Database,
    person: Person,
    assignment_id: int,
    when: dt.datetime,
    *,
    status: str | None = None,
    value: float | None = None,
    period: str | None = None,
) -> None:
    identity = await identity_of(db, person)
    assert identity.member_id is not None
    async with db.sessions() as s:
        await append_checkin(
            s,
            assignment_id=assignment_id,
            member_id=identity.member_id,
            at=when,
            status=status,
            value=Decimal(str(value)) if value is not None else None,
            period=period,
        )
        await s.commit()


async def test_seven_days_one_day_on_the_day_then_weekly_while_overdue(db: Database) -> None:
    team = await make_team(db)
    task = await add_task(
        db, team.world, TaskKind.MILESTONE, "Họp dân", "Hold a residents' meeting"
    )
    aid = await assign(db, task, team.world.a, DEADLINE)

    await run_days(db, DEADLINE - days(10), DEADLINE + days(22))

    expected = [
        ("d7", "2025-05-13"),
        ("d1", "2025-05-19"),
        ("d0", "2025-05-20"),
        ("overdue", "2025-05-27"),
        ("overdue", "2025-06-03"),
        ("overdue", "2025-06-10"),
    ]
    assert kinds(await outbox(db, team.officer)) == expected
    assert kinds(await outbox(db, team.force)) == expected
    assert await outbox(db, team.other) == [] and await outbox(db, team.supervisor) == []

    rows = await outbox(db, team.officer)
    week, tomorrow, today, overdue = (messages(r)[0] for r in rows[:4])
    assert "Hold a residents' meeting" in week.text and "Xã Nam Anh" in week.text
    assert "Due on 20/05/2025, in 7 days." in week.text
    assert "Due tomorrow, 20/05/2025." in tomorrow.text
    assert "Due today, 20/05/2025." in today.text
    assert "was due on 20/05/2025, 7 days ago" in overdue.text
    assert "No check-in yet." in week.text
    assert [c.id for c in week.choices] == [f"ck:n:{aid}", f"rm:sn:{aid}"]
    # Due today: "remind me tomorrow" would remind too late.
    assert [c.id for c in today.choices] == [f"ck:n:{aid}"]
    assert all(not r.urgent for r in rows)
    vi = messages((await outbox(db, team.force))[0])[0]
    assert "Họp dân" in vi.text and "Hold a residents' meeting" not in vi.text


async def test_no_reminder_once_done(db: Database) -> None:
    team = await make_team(db)
    milestone = await add_task(db, team.world, TaskKind.MILESTONE, "Mốc", "Milestone")
    counted = await add_task(db, team.world, TaskKind.COUNT, "Đếm", "Count")
    m = await assign(db, milestone, team.world.a, DEADLINE)
    c = await assign(db, counted, team.world.a, DEADLINE, target=3)
    await run_days(db, DEADLINE - days(7), DEADLINE - days(7))

    await check_in(db, team.officer, m, at(DEADLINE - days(3), 10), status=CheckinStatus.DONE)
    await check_in(db, team.officer, c, at(DEADLINE - days(3), 10), value=2)  # 2 of 3
    await run_days(db, DEADLINE - days(6), DEADLINE)
    by_assignment = [r.dedup_key.split(":")[1] for r in await outbox(db, team.officer)]
    assert by_assignment.count(str(m)) == 1  # the 7-day one only
    assert by_assignment.count(str(c)) == 3  # 7 days, 1 day, on the day
    last = messages((await outbox(db, team.officer))[-1])[0]
    assert "Target: 3." in last.text and "2/3" in last.text

    await check_in(db, team.force, c, at(DEADLINE, 12), value=3)
    await run_days(db, DEADLINE + days(1), DEADLINE + days(30))
    assert len(await outbox(db, team.officer)) == 4


async def test_reporting_calendar_reaches_every_reporting_unit(db: Database) -> None:
    team = await make_team(db)
    engine = make_engine(db, team.clock)
    district = await enrol(db, engine, "41", team.world.district, Role.OFFICER)
    other = await enrol(db, engine, "42", team.world.other_district, Role.FORCE)
    task = await add_task(db, team.world, TaskKind.REPORT, "Báo cáo 6 tháng", "Six-month report")
    async with db.sessions() as s:
        await s.execute(update(Task).where(Task.id == task).values(is_reporting=True))
        await s.commit()
    due = D(2025, 6, 10)
    await assign(db, task, team.world.district, due)
    second = await assign(db, task, team.world.other_district, due)

    await run_days(db, due - days(7), due - days(3))
    await check_in(db, other, second, at(due - days(2)), status=CheckinStatus.SUBMITTED)
    await run_days(db, due - days(2), due)
    assert kinds(await outbox(db, district)) == [
        ("d7", "2025-06-03"),
        ("d1", "2025-06-09"),
        ("d0", "2025-06-10"),
    ]
    assert kinds(await outbox(db, other)) == [("d7", "2025-06-03")]  # submitted on 08/06
    text = messages((await outbox(db, district))[0])[0].text
    assert "The plan's reporting calendar" in text and "Six-month report" in text
    assert "Due on 10/06/2025, in 7 days." in text
    assert await outbox(db, team.officer) == []  # communes do not owe it


async def test_recurring_duty_is_due_at_the_end_of_each_period(db: Database) -> None:
    team = await make_team(db)
    task = await add_task(
        db, team.world, TaskKind.RECURRING, "Tuần tra", "Patrols", cadence="monthly"
    )
    aid = await assign(db, task, team.world.a, D(2025, 12, 31))

    await run_days(db, D(2025, 5, 20), D(2025, 6, 10))
    assert kinds(await outbox(db, team.officer)) == [
        ("d7", "2025-05-24"),
        ("d1", "2025-05-30"),
        ("d0", "2025-05-31"),
    ]
    text = messages((await outbox(db, team.officer))[0])[0].text
    assert "Due on 31/05/2025, in 7 days." in text and "2025-05" in text

    june = period_key("monthly", D(2025, 6, 15))
    await check_in(db, team.officer, aid, at(D(2025, 6, 15)), status="done", period=june)
    await run_days(db, D(2025, 6, 11), D(2025, 7, 1))
    assert kinds(await outbox(db, team.officer))[3:] == []  # June was done
    await run_days(db, D(2025, 7, 2), D(2025, 7, 24))
    assert kinds(await outbox(db, team.officer))[3:] == [("d7", "2025-07-24")]


async def test_snooze_holds_reminders_until_the_next_days_run(db: Database) -> None:
    team = await make_team(db)
    task = await add_task(db, team.world, TaskKind.MILESTONE, "Mốc", "Milestone")
    aid = await assign(db, task, team.world.a, DEADLINE)

    # Snoozed at 06:30 on the 7-day mark: the 07:00 run skips this person only.
    team.clock.now = at(DEADLINE - days(7), 6, 30)
    await team.officer.press(f"rm:sn:{aid}")
    assert "again tomorrow, 14/05/2025" in team.officer.text
    assert f"ck:n:{aid}" in team.officer.choices
    await run_days(db, DEADLINE - days(7), DEADLINE - days(7))
    assert kinds(await outbox(db, team.officer)) == []
    assert kinds(await outbox(db, team.force)) == [("d7", "2025-05-13")]

    await send_deadline_reminders(db, Settings(), at(DEADLINE - days(7), 12))  # a second run
    assert kinds(await outbox(db, team.officer)) == []

    await run_days(db, DEADLINE - days(6), DEADLINE - days(2))
    assert kinds(await outbox(db, team.officer)) == [("snooze", "2025-05-14")]
    text = messages((await outbox(db, team.officer))[0])[0].text
    assert "Due on 20/05/2025, in 6 days." in text

    # Snoozed the day before the deadline: the day's own reminder goes, once.
    team.clock.now = at(DEADLINE - days(1), 8)
    await team.officer.press(f"rm:sn:{aid}")
    await run_days(db, DEADLINE - days(1), DEADLINE)
    assert kinds(await outbox(db, team.officer))[1:] == [("d0", "2025-05-20")]


async def test_snooze_is_refused_for_another_units_task(db: Database) -> None:
    team = await make_team(db)
    task = await add_task(db, team.world, TaskKind.MILESTONE, "Mốc", "Milestone")
    aid = await assign(db, task, team.world.a, DEADLINE)
    await team.other.press(f"rm:sn:{aid}")
    assert "not assigned to your unit" in team.other.text
    await team.other.press("rm:sn:abc")
    assert "no longer valid" in team.other.text


async def test_check_in_now_opens_the_check_in_of_that_task(db: Database) -> None:
    team = await make_team(db)
    task = await add_task(db, team.world, TaskKind.COUNT, "Đếm", "Model agencies")
    aid = await assign(db, task, team.world.a, DEADLINE, target=3)
    await run_days(db, DEADLINE - days(7), DEADLINE - days(7))
    reminder = messages((await outbox(db, team.officer))[0])[0]
    await team.officer.press(reminder.choices[0].id)
    assert "Model agencies" in team.officer.text
    async with db.sessions() as s:
        from db.models import Conversation

        identity = await identity_of(db, team.officer)
        conv = await s.get(Conversation, identity.id)
    assert conv is not None and conv.flow == "checkin" and conv.data["assignment_id"] == aid


async def test_two_schedulers_queue_each_reminder_once(db: Database, pg_url: str) -> None:
    team = await make_team(db)
    for n in range(5):
        task = await add_task(db, team.world, TaskKind.MILESTONE, f"Việc {n}", f"Task {n}")
        await assign(db, task, team.world.a, DEADLINE)
    other = Database(pg_url, pool_size=2)
    try:
        results = await asyncio.gather(
            *(
                send_deadline_reminders(engine, Settings(), at(DEADLINE - days(7)))
                for engine in (db, other, db, other)
            )
        )
    finally:
        await other.dispose()
    rows = await outbox(db)
    assert sum(results) == len(rows) == 10  # 5 tasks x 2 people
    assert len({r.dedup_key for r in rows}) == 10


async def test_weekly_nudge_for_tasks_without_check_in_for_7_days(db: Database) -> None:
    team = await make_team(db)
    far = D(2025, 12, 31)
    quiet = await add_task(db, team.world, TaskKind.MILESTONE, "Im lặng", "Quiet task")
    busy = await add_task(db, team.world, TaskKind.COUNT, "Bận", "Busy task")
    q = await assign(db, quiet, team.world.a, far)
    b = await assign(db, busy, team.world.a, far, target=10)
    await check_in(db, team.force, b, at(D(2025, 5, 2), 10), value=1)

    monday = D(2025, 5, 5)
    assert await send_checkin_nudges(db, Settings(), at(monday)) == 2  # officer and force
    assert await send_checkin_nudges(db, Settings(), at(monday + days(2))) == 0  # same week
    row = (await outbox(db, team.officer))[0]
    assert row.dedup_key.endswith(":2025-W19")
    nudge = messages(row)[0]
    assert "1 task of your unit" in nudge.text and "Quiet task" in nudge.text
    assert "Busy task" not in nudge.text  # a check-in 3 days ago
    assert f"ck:n:{q}" in [c.id for c in nudge.choices]

    # A week later the busy task's check-in is 10 days old; the officer snoozed the quiet one.
    team.clock.now = at(monday + days(7), 6)
    await team.officer.press(f"rm:sn:{q}")  # until Tuesday 13/05: the Monday nudge skips it
    await send_checkin_nudges(db, Settings(), at(monday + days(7)))
    officer_nudge = messages((await outbox(db, team.officer))[-1])[0]
    force_nudge = messages((await outbox(db, team.force))[-1])[0]
    assert "Busy task" in officer_nudge.text and "Quiet task" not in officer_nudge.text
    assert "Bận" in force_nudge.text and "Im lặng" in force_nudge.text


async def test_scheduler_service_runs_reminders_at_start_and_sends_them(db: Database) -> None:
    from tests.integration.test_outbox import ScriptedChannel

    team = await make_team(db)
    task = await add_task(db, team.world, TaskKind.MILESTONE, "Mốc", "Milestone")
    await assign(db, task, team.world.a, DEADLINE)
    channel = ScriptedChannel()
    settings = Settings(outbox_poll_seconds=0.05)
    clock = Clock(at(DEADLINE - days(7), 9))
    # 09:00 is also within the digest's catch-up window; this test is about reminders.
    async with SchedulerService(
        db, settings, {"test": channel}, clock=clock, digest_catch_up=False
    ) as service:
        assert {j.id for j in service.scheduler.get_jobs()} >= {
            "deadline-reminders",
            "checkin-nudges",
        }
        for _ in range(100):
            if len(channel.delivered) == 2:
                break
            await asyncio.sleep(0.05)
    assert sorted(chat for chat, _ in channel.delivered) == ["11", "12"]
    assert {r.status for r in await outbox(db)} == {OutboxStatus.SENT}
