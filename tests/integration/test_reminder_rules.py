"""Reminder rules the calendar tests leave open (scheduler.reminders): a snooze that
ends on a quiet day, a duty's last day, finished tasks and the weekly nudge."""

from __future__ import annotations

from bot.config import Settings
from db.checkins import CheckinStatus
from db.models import TaskKind
from db.session import Database
from scheduler.reminders import send_checkin_nudges
from tests.integration.plan_fixtures import add_task, assign
from tests.integration.test_reminders import (
    D,
    at,
    check_in,
    days,
    kinds,
    make_team,
    messages,
    outbox,
    run_days,
)


async def test_a_snooze_ending_on_a_quiet_day_brings_one_reminder_back(db: Database) -> None:
    team = await make_team(db)
    far = D(2025, 9, 30)
    first = await assign(
        db, await add_task(db, team.world, TaskKind.MILESTONE, "Xa", "Far task"), team.world.a, far
    )
    second = await assign(
        db,
        await add_task(db, team.world, TaskKind.MILESTONE, "Xa nữa", "Farther"),
        team.world.a,
        far,
    )
    team.clock.now = at(D(2025, 5, 12), 6, 30)
    # Months before the deadlines: the officer snoozes the first task, the force member
    # (after the officer in the unit's list) the second; both until 13/05.
    await team.officer.press(f"rm:sn:{first}")
    await team.force.press(f"rm:sn:{second}")
    await run_days(db, D(2025, 5, 12), D(2025, 5, 16))
    officer_rows = await outbox(db, team.officer)
    force_rows = await outbox(db, team.force)
    assert kinds(officer_rows) == [("snooze", "2025-05-13")]
    assert kinds(force_rows) == [("snooze", "2025-05-13")]
    assert officer_rows[0].dedup_key.split(":")[1] == str(first)
    assert force_rows[0].dedup_key.split(":")[1] == str(second)
    assert "Far task" in messages(officer_rows[0])[0].text
    assert "Xa nữa" in messages(force_rows[0])[0].text


async def test_a_recurring_duty_is_reminded_on_its_last_day_then_stops(db: Database) -> None:
    team = await make_team(db)
    task = await add_task(
        db, team.world, TaskKind.RECURRING, "Tuần tra", "Patrols", cadence="monthly"
    )
    await assign(db, task, team.world.a, D(2025, 5, 20))  # ends before May does
    await run_days(db, D(2025, 5, 10), D(2025, 6, 10))
    assert kinds(await outbox(db, team.officer)) == [
        ("d7", "2025-05-13"),
        ("d1", "2025-05-19"),
        ("d0", "2025-05-20"),
    ]


async def test_a_weekly_duty_hears_the_day_before_and_on_the_day_only(db: Database) -> None:
    team = await make_team(db)
    task = await add_task(
        db, team.world, TaskKind.RECURRING, "Giao ban", "Weekly briefing", cadence="weekly"
    )
    await assign(db, task, team.world.a, D(2025, 12, 31))
    await run_days(db, D(2025, 5, 12), D(2025, 5, 25))
    assert kinds(await outbox(db, team.officer)) == [
        ("d1", "2025-05-17"),
        ("d0", "2025-05-18"),
        ("d1", "2025-05-24"),
        ("d0", "2025-05-25"),
    ]


async def test_finished_tasks_are_left_out_of_the_weekly_nudge(db: Database) -> None:
    team = await make_team(db)
    far = D(2025, 12, 31)
    done = await assign(
        db,
        await add_task(db, team.world, TaskKind.MILESTONE, "Xong", "Finished"),
        team.world.a,
        far,
    )
    other = await assign(
        db,
        await add_task(db, team.world, TaskKind.MILESTONE, "Chưa", "Unfinished"),
        team.world.a,
        far,
    )
    await check_in(db, team.officer, done, at(D(2025, 4, 20)), status=CheckinStatus.DONE)
    monday = D(2025, 5, 5)
    assert await send_checkin_nudges(db, Settings(), at(monday)) == 2
    nudge = messages((await outbox(db, team.officer))[0])[0].text
    assert "Unfinished" in nudge and "Finished" not in nudge
    assert "1 task of your unit" in nudge
    # Once everything is done, nobody is nudged at all.
    await check_in(db, team.officer, other, at(D(2025, 5, 6)), status=CheckinStatus.DONE)
    assert await send_checkin_nudges(db, Settings(), at(monday + days(14))) == 0


async def test_a_snooze_ending_on_the_nudge_day_no_longer_hides_the_task(db: Database) -> None:
    team = await make_team(db)
    quiet = await assign(
        db,
        await add_task(db, team.world, TaskKind.MILESTONE, "Im lặng", "Quiet task"),
        team.world.a,
        D(2025, 12, 31),
    )
    team.clock.now = at(D(2025, 5, 4), 10)  # Sunday: "remind me tomorrow", until Monday
    await team.officer.press(f"rm:sn:{quiet}")
    assert await send_checkin_nudges(db, Settings(), at(D(2025, 5, 5))) == 2
    assert "Quiet task" in messages((await outbox(db, team.officer))[0])[0].text
    team.clock.now = at(D(2025, 5, 11), 10)  # Sunday again; Monday's nudge is a new week
    await team.officer.press(f"rm:sn:{quiet}")
    team.clock.now = at(D(2025, 5, 12), 6)
    await team.force.press(f"rm:sn:{quiet}")  # until Tuesday: Monday's nudge skips them
    assert await send_checkin_nudges(db, Settings(), at(D(2025, 5, 12))) == 1
    assert len(await outbox(db, team.force)) == 1


async def test_an_ended_duty_does_not_stop_the_reminders_after_it(db: Database) -> None:
    team = await make_team(db)
    # A monthly duty (without a cadence it would be a one-off task, overdue, not ended).
    duty = await add_task(
        db, team.world, TaskKind.RECURRING, "Tuần tra", "Patrols", cadence="monthly"
    )
    await assign(db, duty, team.world.a, D(2025, 5, 9))  # ended yesterday, listed first
    task = await add_task(db, team.world, TaskKind.MILESTONE, "Mốc", "Milestone")
    await assign(db, task, team.world.a, D(2025, 5, 17))
    await run_days(db, D(2025, 5, 10), D(2025, 5, 10))
    rows = await outbox(db, team.officer)
    assert kinds(rows) == [("d7", "2025-05-10")]
    # The day's own run: no "late reminder" line (that is the catch-up's, late=True).
    text = messages(rows[0])[0].text
    assert "Milestone" in text and "Late reminder" not in text and "not running" not in text


async def test_a_check_in_exactly_seven_days_old_is_stale_for_the_nudge(db: Database) -> None:
    team = await make_team(db)
    busy = await assign(
        db,
        await add_task(db, team.world, TaskKind.COUNT, "Bận", "Busy task"),
        team.world.a,
        D(2025, 12, 31),
        target=10,
    )
    monday = D(2025, 5, 12)
    await check_in(db, team.force, busy, at(monday - days(7)), value=1)  # 7 days to the minute
    assert await send_checkin_nudges(db, Settings(), at(monday)) == 2
    assert "Busy task" in messages((await outbox(db, team.officer))[0])[0].text
