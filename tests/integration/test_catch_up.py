"""Reminders of days no process ran are sent when one starts again: each once, marked late."""

from __future__ import annotations

import datetime as dt

from bot.config import Settings
from db.models import TaskKind
from db.session import Database
from scheduler.catch_up import CATCH_UP_DAYS, deadline_reminders_caught_up, missed_days
from tests.integration.plan_fixtures import add_task, assign
from tests.integration.test_reminders import (
    DEADLINE,
    at,
    days,
    kinds,
    make_team,
    messages,
    outbox,
)


def test_missed_days() -> None:
    today = dt.date(2025, 5, 20)
    assert missed_days(None, today) == []  # the first run ever: nothing to catch up
    assert missed_days(today - days(1), today) == []
    assert missed_days(today - days(3), today) == [dt.date(2025, 5, 18), dt.date(2025, 5, 19)]
    assert missed_days(today - days(30), today)[0] == today - days(CATCH_UP_DAYS)


async def test_days_missed_while_down_are_sent_late_once(db: Database) -> None:
    team = await make_team(db)
    task = await add_task(db, team.world, TaskKind.MILESTONE, "Họp dân", "Hold a meeting")
    await assign(db, task, team.world.a, DEADLINE)

    # ran on the 12th (nothing due), then nobody ran until the 20th
    assert await deadline_reminders_caught_up(db, Settings(), at(DEADLINE - days(8))) == 0
    await deadline_reminders_caught_up(db, Settings(), at(DEADLINE))
    # d7 (13th) and d1 (19th) were missed; d0 is today's own
    assert kinds(await outbox(db, team.officer)) == [
        ("d7", "2025-05-13"),
        ("d1", "2025-05-19"),
        ("d0", "2025-05-20"),
    ]
    texts = [messages(r)[0].text for r in await outbox(db, team.officer)]
    assert texts[0].startswith("Late reminder for 13/05/2025: the bot was not running that day.")
    assert texts[1].startswith("Late reminder for 19/05/2025")
    assert not texts[2].startswith("Late")
    vietnamese = messages((await outbox(db, team.force))[0])[0].text
    assert vietnamese.startswith("Nhắc việc trễ ngày 13/05/2025")

    # a second process (or a retry) the same day queues nothing again
    assert await deadline_reminders_caught_up(db, Settings(), at(DEADLINE, 9)) == 0
    # and a run on time the next week is not marked late
    await deadline_reminders_caught_up(db, Settings(), at(DEADLINE + days(7)))
    last = (await outbox(db, team.officer))[-1]
    assert kinds([last]) == [("overdue", "2025-05-27")]
    assert not messages(last)[0].text.startswith("Late")
