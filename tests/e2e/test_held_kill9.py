"""A polling ``antt run`` killed with -9 during a database outage loses no update.

Real processes against the fake Bot API and a PostgreSQL of their own (``faulty``)
that the test stops and starts: a citizen starts a tip while the database is down,
the process holding both updates is killed -9 (Telegram considers them delivered),
the database comes back and a new process answers each message once, in order.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import IO

import pytest
from sqlalchemy import func, select

from db.models import ProcessedUpdate
from db.session import Database
from tests.e2e.telegram_support import TOKEN
from tests.e2e.test_antt_run import ROOT, clean_env, free_port
from tests.fakes.telegram_api import ApiCall, FakeTelegramAPI
from tests.faulty_pg import FaultyPostgres
from tests.integration.tip_helpers import make_world

CITIZEN = 9301
OTHER = 9302
CATEGORY_QUESTION = "What is it about?"
DESCRIPTION_QUESTION = "Describe what you saw or know"


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI(token=TOKEN) as fake:
        yield fake
        fake.assert_no_violations()


async def until(condition: Callable[[], bool], within: float, what: Callable[[], str]) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not condition():  # noqa: ASYNC110 (files and the fake's queue: no event)
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(what())
        await asyncio.sleep(0.05)


def held_files(folder: Path) -> set[str]:
    return {p.name for p in folder.glob("*")} if folder.is_dir() else set()


def to_citizen(call: ApiCall) -> bool:
    return call.method == "sendMessage" and str(call.chat_id) == str(CITIZEN)


async def antt_run(env: dict[str, str], log: IO[bytes]) -> asyncio.subprocess.Process:
    """``antt run`` with its output in a file (a pipe nobody reads could fill and stall it)."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=ROOT, env=env, stdout=log, stderr=log
    )


def tail(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")[-3000:]


async def test_updates_held_by_a_process_killed_9_are_answered_once_by_the_next(
    api: FakeTelegramAPI, faulty: FaultyPostgres, fdb: Database, tmp_path: Path
) -> None:
    await make_world(fdb)
    folder = tmp_path / "held" / "telegram"
    env = clean_env(
        ANTT_DATABASE_URL=faulty.url,
        ANTT_TELEGRAM_TOKEN=TOKEN,
        ANTT_TELEGRAM_API_URL=api.root_url,
        ANTT_WEB_PORT=str(free_port()),
        ANTT_DATA_DIR=str(tmp_path),
        ANTT_UPDATE_RETRY_MAX_SECONDS="0.3",
        ANTT_BUSY_NOTICE_SECONDS="600",  # no "busy" notice: only the two answers
    )
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    with first_log.open("wb") as out:
        first = await antt_run(env, out)
    try:
        api.user_message(OTHER, "/start", language_code="en")  # polling, the database up
        await api.wait_for("sendMessage", 30, chat_id=OTHER)
        await faulty.stop()
        tip = api.user_message(CITIZEN, "/tip", language_code="en")
        pick = api.user_message(CITIZEN, "2", language_code="en")  # the second category
        expected = {f"{tip['update_id']}.json", f"{pick['update_id']}.json"}
        await until(
            lambda: held_files(folder) == expected and not api.pending_updates,
            20,
            lambda: f"held: {held_files(folder)}, at Telegram: {api.pending_updates}",
        )
        first.kill()  # SIGKILL: no stop, nothing saved at the end
    finally:
        if first.returncode is None:
            first.kill()
        await first.wait()
    assert first.returncode == -signal.SIGKILL, tail(first_log)
    assert api.sent_messages(CITIZEN) == []
    assert not api.pending_updates  # Telegram will not deliver them again

    await faulty.start()
    with second_log.open("wb") as out:
        second = await antt_run(env, out)
    try:
        await api.wait_for(to_citizen, 30, count=2)
        await until(lambda: not held_files(folder), 10, lambda: f"left: {held_files(folder)}")
        await asyncio.sleep(1.0)  # time for a doubled answer to show
    finally:
        if second.returncode is None:
            second.send_signal(signal.SIGTERM)
        await asyncio.wait_for(second.wait(), 30)
    assert second.returncode == 0, tail(second_log)
    answers = [c.plain_text or "" for c in api.sent_messages(CITIZEN)]
    assert len(answers) == 2, answers
    assert CATEGORY_QUESTION in answers[0]  # /tip: the categories
    assert DESCRIPTION_QUESTION in answers[1]  # "2" answered the question /tip asked
    await fdb.engine.dispose()  # its connections died with the database
    async with fdb.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(ProcessedUpdate)) == 3
    assert not held_files(folder)
