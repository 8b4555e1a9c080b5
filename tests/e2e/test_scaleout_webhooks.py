"""Two real ``antt run --webhook`` processes on one database, behind a round-robin
"balancer": the updates of the same people go to one process and the next in turn.

Telegram sends a chat's next update only once the webhook answered the one before, so
each person here posts a step after the last was answered, while the people run at
once. Every person's tip must complete, in order, each step answered once; nothing lost
or doubled in the fake Bot API's messages or in the database. A redelivery of the last
step racing its original on the other process is answered once too.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bench.telegram_engine import WEBHOOK_SECRET, WebhookProcess, webhook_processes
from db.models import ProcessedUpdate, Tip, Unit
from db.session import Database
from tests.fakes.telegram_api import DEFAULT_TOKEN, ApiCall, FakeTelegramAPI
from tests.integration.tip_helpers import make_world
from tests.support import TEST_KEY

PEOPLE = 8
FIRST_USER = 7_100_001
CODE = re.compile(r"\d{4}-\d{4}-\d{4}-\d{4}")

# A tip, step by step: what the person sends, a button the answer must offer (the next
# step's) and how many messages answer it, worked out from handlers/tip.py. The last
# step's answer carries the tracking code instead of a next step.
STEPS: list[tuple[str, str, str | None, int]] = [
    ("text", "/start tip_nghi-huong", "tip:cat:drugs", 1),
    ("press", "tip:cat:drugs", "nav:cancel", 1),  # the description, with a Cancel button
    ("text", "description", "tip:done", 1),  # "Skip: no files"
    ("press", "tip:done", "tip:skip", 1),  # the poster's commune, details or Skip
    ("press", "tip:skip", "tip:anon", 2),  # the choices, then the phone-share keyboard
    ("press", "tip:anon", "tip:send", 2),  # "Thank you." (the keyboard goes), the summary
    ("press", "tip:send", None, 1),
]


def description(user_id: int) -> str:
    return f"Person {user_id}: pills sold behind the market at night."


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI(token=DEFAULT_TOKEN) as fake:
        yield fake
        fake.assert_no_violations()


def messages_since(api: FakeTelegramAPI, user_id: int, since: int) -> list[ApiCall]:
    return [c for c in api.sent_messages(user_id) if c.seq >= since]


async def step(
    api: FakeTelegramAPI,
    user_id: int,
    kind: str,
    value: str,
    urls: list[str],
) -> list[ApiCall]:
    """Post one update to each of ``urls`` at once (one: the balancer's pick; two: a
    redelivery racing the original); the messages that answered it."""
    if kind == "text":
        update = api.user_message(user_id, value, language_code="en", push=False)
    else:
        holder = next(c for c in reversed(api.sent_messages(user_id)) if value in c.callback_data)
        update = api.callback(user_id, value, holder.message_id, push=False)
    since = api.mark()
    statuses = await asyncio.gather(*(api.post_webhook(u, update, WEBHOOK_SECRET) for u in urls))
    # 200 comes after the reply went out (bot/channels/telegram/webhook.py)
    assert statuses == [200] * len(urls), (user_id, value, statuses)
    return messages_since(api, user_id, since)


async def tip_over_two_processes(
    api: FakeTelegramAPI, user_id: int, processes: list[WebhookProcess]
) -> str:
    """One person's tip, step k posted to process (person + k) mod 2; the tracking code."""
    answers: list[list[ApiCall]] = []
    for index, (kind, value, offers, messages) in enumerate(STEPS):
        text = description(user_id) if value == "description" else value
        first = processes[(user_id + index) % 2].url
        other = processes[(user_id + index + 1) % 2].url
        last = index == len(STEPS) - 1
        answer = await step(api, user_id, kind, text, [first, other] if last else [first])
        assert len(answer) == messages, (user_id, value, answer)
        if offers is not None:
            assert any(offers in c.callback_data for c in answer), (user_id, value, answer)
        answers.append(answer)
    summary = answers[-2][-1].plain_text or ""
    assert description(user_id) in summary, summary  # this person's draft, not another's
    code = CODE.search("\n".join(c.plain_text or "" for c in answers[-1]))
    assert code, answers[-1]
    return code.group(0)


async def test_two_webhook_processes_complete_every_persons_tip_in_order_once(
    api: FakeTelegramAPI, db: Database, pg_url: str, tmp_path: Path
) -> None:
    await make_world(db)
    users = [FIRST_USER + i for i in range(PEOPLE)]
    async with webhook_processes(api, pg_url, 2, key=TEST_KEY, log_dir=tmp_path) as processes:
        codes = await asyncio.gather(*(tip_over_two_processes(api, u, processes) for u in users))
    assert len(set(codes)) == PEOPLE

    # The fake: each person got one tracking code (the raced redelivery was not
    # answered again), and the same number of messages as everyone else.
    per_person: Counter[int] = Counter()
    for user in users:
        sent = api.sent_messages(user)
        texts = [c.plain_text or "" for c in sent]
        assert sum(1 for t in texts if CODE.search(t)) == 1, (user, texts)
        per_person[len(sent)] += 1
        # in order: each step's button came before the next step's
        offered = [d for c in sent for d in c.callback_data]
        positions = [offered.index(o) for _, _, o, _ in STEPS if o is not None]
        assert positions == sorted(positions), (user, offered)
    assert per_person == {sum(m for *_, m in STEPS): PEOPLE}  # not a message more or fewer

    # The database: one tip per person with their own words, anonymous, in the poster's
    # commune; every update recorded once (the redelivery is not a new one).
    async with db.sessions() as s:
        tips: list[Any] = list((await s.scalars(select(Tip).order_by(Tip.id))).all())
        ward = await s.scalar(select(Unit.id).where(Unit.code == "nghi-huong"))
        recorded = await s.scalar(select(func.count()).select_from(ProcessedUpdate))
    assert sorted(t.description for t in tips) == sorted(description(u) for u in users)
    assert all(t.anonymous and t.unit_id == ward for t in tips)
    assert recorded == PEOPLE * len(STEPS)
    # neither process failed an update (each person's steps went to both in turn)
    for process in processes:
        log = process.log_path.read_text(errors="replace")
        assert not re.search(r"update \S+ failed|Traceback", log), log[-3000:]
