"""A crash loses nothing: ``antt scheduler`` (fan-out and sender) is killed with -9 twice in
the middle of an announcement to 300 subscribers and restarted; every subscriber gets it,
and only messages in flight at a kill may come twice (the outbox is at-least-once)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
from collections import Counter
from collections.abc import AsyncIterator

import pytest

from db import broadcasts as repo
from db.members import identity_for
from db.models import BroadcastStatus, Subscription
from db.session import Database
from handlers.broadcast import render_all
from tests.e2e.test_antt_run import antt, clean_env
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.integration.tip_helpers import add_unit

TOKEN = "123456:kill-nine-test"
PEOPLE = 300
FIRST_CHAT = 900_000
BATCH = 20


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI(token=TOKEN) as fake:
        yield fake


async def queue_announcement(db: Database) -> int:
    async with db.sessions() as s:
        province = await add_unit(s, "nghe-an", "Tỉnh Nghệ An", "province")
        commune = await add_unit(s, "nam-giang", "Xã Nam Giang", "commune", province)
        for n in range(PEOPLE):
            who = await identity_for(s, "telegram", str(FIRST_CHAT + n), language="vi")
            s.add(
                Subscription(
                    identity_id=who.id, unit_id=commune.id, created_at=dt.datetime.now(dt.UTC)
                )
            )
        content = {"text": "Cảnh báo lừa đảo", "unit_name": province.name}
        b = await repo.create(
            s,
            author_member_id=None,
            unit=province,
            roles=[],
            citizens=True,
            content=content,
            messages=render_all(content),
            send_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1),
            urgent=False,
            recipients=PEOPLE,
            status=BroadcastStatus.SCHEDULED,
            status_identity_id=None,
        )
        await s.commit()
        return b.id


def delivered(api: FakeTelegramAPI) -> Counter[int]:
    return Counter(
        int(c.params["chat_id"])
        for c in api.calls_of("sendMessage")
        if int(c.params["chat_id"]) >= FIRST_CHAT
    )


async def wait_until(check, within: float) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


async def test_kill_nine_during_an_announcement_loses_nothing(
    api: FakeTelegramAPI, db: Database, pg_url: str
) -> None:
    await queue_announcement(db)
    env = clean_env(
        ANTT_DATABASE_URL=pg_url,
        ANTT_TELEGRAM_TOKEN=TOKEN,
        ANTT_TELEGRAM_API_URL=api.root_url,
        ANTT_BOT_RATE_PER_SECOND="150",
        ANTT_CHAT_RATE_PER_SECOND="10",
        ANTT_OUTBOX_LEASE_SECONDS="2",
        ANTT_OUTBOX_BATCH_SIZE=str(BATCH),
        ANTT_BROADCAST_FANOUT_BATCH="40",
        ANTT_QUIET_START="00:00",
        ANTT_QUIET_END="00:00",
    )
    for kill_after in (60, 160):
        proc = await antt("scheduler", env=env)
        try:
            await wait_until(lambda n=kill_after: sum(delivered(api).values()) >= n, 60)
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            await proc.wait()
        assert proc.returncode == -signal.SIGKILL
    proc = await antt("scheduler", env=env)
    try:
        await wait_until(lambda: len(delivered(api)) == PEOPLE, 90)
        await asyncio.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 30)
    got = delivered(api)
    lost = [chat for chat in range(FIRST_CHAT, FIRST_CHAT + PEOPLE) if got[chat] == 0]
    duplicates = sum(got.values()) - len(got)
    assert lost == []
    assert duplicates <= 2 * BATCH  # at most what was in flight at the two kills
