"""``antt run`` with a Bot API it cannot reach: one clear line naming the URL (no token),
then it keeps trying (no traceback, no exit); it starts once the API answers."""

from __future__ import annotations

import asyncio
import contextlib

from db.session import Database
from tests.e2e.test_antt_run import antt, clean_env, free_port, wait_healthy
from tests.fakes.telegram_api import DEFAULT_TOKEN, FakeTelegramAPI
from tests.fakes.zalo_api import DEFAULT_TOKEN as ZALO_TOKEN


async def test_unreachable_bot_api_is_one_line_and_retried(db: Database, pg_url: str) -> None:
    port = free_port()
    api_url = f"http://127.0.0.1:{port}"
    web = free_port()
    env = clean_env(
        ANTT_DATABASE_URL=pg_url,
        ANTT_TELEGRAM_TOKEN=DEFAULT_TOKEN,
        ANTT_TELEGRAM_API_URL=api_url,
        ANTT_WEB_PORT=str(web),
        ANTT_DEFAULT_LANGUAGE="en",
    )
    proc = await antt("run", "--no-scheduler", env=env)
    assert proc.stderr is not None
    seen: list[str] = []
    try:
        async with asyncio.timeout(60):
            while sum("unreachable" in line for line in seen) < 2:
                seen.append((await proc.stderr.readline()).decode())
        assert proc.returncode is None  # still trying
        failures = [line for line in seen if "unreachable" in line]
        assert all(api_url in line and "trying again" in line for line in failures)
        text = "".join(seen)
        assert "Traceback" not in text and DEFAULT_TOKEN not in text
        # the API comes up: the bot starts without a restart
        async with FakeTelegramAPI(token=DEFAULT_TOKEN, port=port):
            drain = asyncio.create_task(proc.stderr.read())
            await wait_healthy(f"http://127.0.0.1:{web}", proc, within=90)
            drain.cancel()
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        await proc.wait()


async def test_unreachable_zalo_api_is_one_line_and_retried(db: Database, pg_url: str) -> None:
    api_url = f"http://127.0.0.1:{free_port()}"
    env = clean_env(
        ANTT_DATABASE_URL=pg_url,
        ANTT_ZALO_TOKEN=ZALO_TOKEN,
        ANTT_ZALO_API_URL=api_url,
        ANTT_WEB_PORT=str(free_port()),
        ANTT_DEFAULT_LANGUAGE="en",
    )
    proc = await antt("run", "--no-scheduler", env=env)
    assert proc.stderr is not None
    seen: list[str] = []
    try:
        async with asyncio.timeout(60):
            while sum("unreachable" in line for line in seen) < 2:
                seen.append((await proc.stderr.readline()).decode())
        assert proc.returncode is None
        assert all(api_url in line for line in seen if "unreachable" in line)
        text = "".join(seen)
        assert "Traceback" not in text and ZALO_TOKEN not in text
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        await proc.wait()
