"""``antt run`` as a real process: polling and webhook, /healthz, a clean stop on SIGTERM,
and one-line errors for a missing token or webhook secret."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator

import aiohttp
import pytest

from db.session import Database
from tests.e2e.telegram_support import PUBLIC_URL, SECRET, TOKEN
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.support import TEST_KEY

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTT_")}
    env["ANTT_SECRET_KEY"] = TEST_KEY
    env.update(values)
    return {k: v for k, v in env.items() if v}


async def antt(*args: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def wait_healthy(url: str, proc: asyncio.subprocess.Process, within: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + within
    async with aiohttp.ClientSession() as http:
        while asyncio.get_running_loop().time() < deadline:
            if proc.returncode is not None:
                raise AssertionError("antt run exited early")
            try:
                async with http.get(url + "/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("antt run never became healthy")


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI(token=TOKEN) as fake:
        yield fake
        fake.assert_no_violations()


async def test_missing_token_is_one_clear_line() -> None:
    proc = await antt("run", env=clean_env(ANTT_DEFAULT_LANGUAGE="en"))
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and "ANTT_TELEGRAM_TOKEN" in lines[0]


@pytest.mark.parametrize("command", ["run", "scheduler"])
@pytest.mark.parametrize("key", ["", "dev-only-change-me", "short-but-not-empty", "ab" * 40])
async def test_no_key_or_a_weak_key_is_refused_in_one_line(command: str, key: str) -> None:
    env = clean_env(ANTT_DEFAULT_LANGUAGE="en", ANTT_TELEGRAM_TOKEN="1:x", ANTT_SECRET_KEY=key)
    started = asyncio.get_running_loop().time()
    proc = await antt(command, env=env)
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert asyncio.get_running_loop().time() - started < 10
    assert proc.returncode != 0
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and "ANTT_SECRET_KEY" in lines[0] and "antt secret new" in lines[0]


async def test_webhook_secret_of_under_32_characters_is_refused() -> None:
    env = clean_env(
        ANTT_DEFAULT_LANGUAGE="en",
        ANTT_TELEGRAM_TOKEN=TOKEN,
        ANTT_TELEGRAM_WEBHOOK_SECRET="x" * 31,
    )
    proc = await antt("run", "--webhook", PUBLIC_URL, env=env)
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2 and "32 to 256 characters" in err.decode()


async def test_webhook_needs_a_secret() -> None:
    env = clean_env(ANTT_DEFAULT_LANGUAGE="en", ANTT_TELEGRAM_TOKEN=TOKEN)
    proc = await antt("run", "--webhook", PUBLIC_URL, env=env)
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2 and "ANTT_TELEGRAM_WEBHOOK_SECRET" in err.decode()
    assert TOKEN not in err.decode()


@pytest.mark.parametrize(
    ("webhook", "stop"),
    [(False, signal.SIGTERM), (True, signal.SIGTERM), (False, signal.SIGINT)],
    ids=["polling-sigterm", "webhook-sigterm", "polling-ctrl-c"],
)
async def test_run_answers_and_stops_cleanly(
    api: FakeTelegramAPI, db: Database, pg_url: str, webhook: bool, stop: signal.Signals
) -> None:
    port = free_port()
    env = clean_env(
        ANTT_DATABASE_URL=pg_url,
        ANTT_TELEGRAM_TOKEN=TOKEN,
        ANTT_TELEGRAM_API_URL=api.root_url,
        ANTT_TELEGRAM_WEBHOOK_SECRET=SECRET,
        ANTT_WEB_PORT=str(port),
    )
    args = ["-v", "run", *(["--webhook", PUBLIC_URL] if webhook else [])]
    proc = await antt(*args, env=env)
    local = f"http://127.0.0.1:{port}"
    try:
        await wait_healthy(local, proc)
        if webhook:
            await api.wait_for("setWebhook", timeout=10)
            update = api.user_message(2001, "/start", language_code="en", push=False)
            assert await api.post_webhook(local + "/telegram/webhook", update) == 200
        else:
            api.user_message(2001, "/start", language_code="en")
        reply = await api.wait_for("sendMessage", timeout=10, chat_id=2001)
        assert "113" in (reply.plain_text or "")
    finally:
        if proc.returncode is None:
            proc.send_signal(stop)
        out, err = await asyncio.wait_for(proc.communicate(), 20)
    log = err.decode() + out.decode()
    assert proc.returncode == 0, log[-3000:]
    assert "stopping" in log
    assert "HTTP Request" in log  # -v: httpx logged its request URLs ...
    assert TOKEN.split(":", 1)[1] not in log  # ... with the token redacted


async def test_run_also_sends_queued_proactive_messages(
    api: FakeTelegramAPI, db: Database, pg_url: str
) -> None:
    from db.members import identity_for
    from handlers.notify import enqueue
    from handlers.types import Message

    async with db.sessions() as s:
        person = await identity_for(s, "telegram", "2002", chat_id="2002", language="en")
        await enqueue(
            s, person, lambda: [Message("Reminder: report due")], dedup_key="t:1", urgent=True
        )
        await s.commit()
    env = clean_env(
        ANTT_DATABASE_URL=pg_url,
        ANTT_TELEGRAM_TOKEN=TOKEN,
        ANTT_TELEGRAM_API_URL=api.root_url,
        ANTT_WEB_PORT=str(free_port()),
    )
    proc = await antt("run", env=env)
    try:
        sent = await api.wait_for("sendMessage", timeout=20, chat_id=2002)
        assert sent.plain_text == "Reminder: report due"
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, (err.decode() + out.decode())[-3000:]
