"""``antt run`` loads only what it uses (issue 17, memory): a real process, polling and
webhook, answers an update (polling: a person joins by invite and goes round the menu
as in bench.telegram_engine); the modules it had loaded when it stopped are checked.

No timing and no RSS figure here (those are bench.telegram_engine's); this guards the
imports, so a later top-level import of a heavy library fails a test instead of
silently adding megabytes to every bot process.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.cli import COMMANDS
from db.invites import create_invite
from db.models import Role, Unit, UnitKind
from db.session import Database
from db.units import child_path, fold
from tests.e2e.telegram_support import PUBLIC_URL, SECRET, TOKEN, TgUser
from tests.e2e.test_antt_run import ROOT, clean_env, free_port, wait_healthy
from tests.fakes.telegram_api import FakeTelegramAPI

# Each a package `antt run` (Telegram, no Zalo, no demo) has no use for, and its cost
# when it was loaded: Alembic with Mako and Pygments ~10 MB (the schema check reads the
# version table instead), pydantic-settings ~9 MB (bot/config.py), PyYAML ~1 MB (the
# scoring sheet), the rest for exports, QR posters, charts and other channels.
NOT_LOADED = (
    "alembic",
    "mako",
    "pygments",
    "pydantic",
    "pydantic_settings",
    "dotenv",
    "yaml",
    "openpyxl",
    "qrcode",
    "reportlab",
    "matplotlib",
    "numpy",
    "PIL",
    "bot.channels.zalo",
    "bot.channels.emulator",
    "bot.demo",
    # Babel (about 1 MB of modules, and its locale data, vi 3.2 MB and en 1.3, at the
    # first number): dates and times are written by handlers.i18n, catalogues read by
    # handlers.catalogue; Babel loads with the first number or relative time shown,
    # which the menu, /me and the language switch never show.
    "babel",
    # cryptography (8.5 MB, its Rust extension): AES-GCM comes from the libcrypto the
    # ssl module mapped (db/crypto.py), and PTB loads without Telegram Passport
    # (bot/channels/telegram/__init__.py).
    "cryptography",
)
# The commands `antt` has besides `run`: only the one run is imported (bot/cli.py).
OTHER_COMMANDS = tuple(f"bot.commands.{name}" for name in COMMANDS if name != "run")

# `python -m bot` with a record of sys.modules written at exit.
RUN_AND_RECORD = """
import atexit, json, os, sys
def record():
    with open(os.environ["MODULES_OUT"], "w", encoding="utf-8") as out:
        json.dump(sorted(sys.modules), out)
atexit.register(record)
sys.argv = ["antt", *sys.argv[1:]]
from bot.cli import main
sys.exit(main())
"""


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI(token=TOKEN) as fake:
        yield fake
        fake.assert_no_violations()


def loaded(modules: list[str], package: str) -> list[str]:
    return [m for m in modules if m == package or m.startswith(package + ".")]


async def invite(db: Database) -> str:
    async with db.sessions() as s:
        unit = Unit(
            code="IMPORTS-COMMUNE",
            name="Xã Nhập Khẩu",
            name_search=fold("Xã Nhập Khẩu"),
            kind=UnitKind.COMMUNE.value,
            depth=0,
        )
        s.add(unit)
        await s.flush()
        unit.path = child_path(None, unit.id)
        code = await create_invite(s, unit_id=unit.id, role=Role.FORCE)
        await s.commit()
    return code


async def go_round_the_menu(api: FakeTelegramAPI, code: str) -> None:
    """bench.telegram_engine's person: join by invite, then the menu once round."""
    person = TgUser(api, 2102, first_name="Lan", last_name="Nguyễn Thị", language_code="vi")
    await person.say(f"/start inv_{code}")
    assert "reg:me" in person.buttons
    await person.press("reg:me")
    assert "Xã Nhập Khẩu" in person.text
    await person.press("m:lang")
    await person.press("lang:en")
    await person.say("/me")
    assert "Name: Lan Nguyễn Thị" in person.text
    await person.say("/lang")
    await person.press("lang:vi")
    await person.say("/start")
    await person.say("/menu")
    assert person.buttons


@pytest.mark.parametrize("webhook", [False, True], ids=["polling", "webhook"])
async def test_run_loads_no_heavy_module_it_does_not_use(
    api: FakeTelegramAPI, db: Database, pg_url: str, tmp_path: Path, webhook: bool
) -> None:
    code = await invite(db)
    port = free_port()
    record = tmp_path / "modules.json"
    env = clean_env(
        ANTT_DATABASE_URL=pg_url,
        ANTT_TELEGRAM_TOKEN=TOKEN,
        ANTT_TELEGRAM_API_URL=api.root_url,
        ANTT_TELEGRAM_WEBHOOK_SECRET=SECRET,
        ANTT_WEB_PORT=str(port),
        MODULES_OUT=str(record),
    )
    args = ["run", *(["--webhook", PUBLIC_URL] if webhook else [])]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        RUN_AND_RECORD,
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    local = f"http://127.0.0.1:{port}"
    try:
        await wait_healthy(local, proc)
        if webhook:
            await api.wait_for("setWebhook", timeout=10)
            update = api.user_message(2101, "/start", language_code="en", push=False)
            assert await api.post_webhook(local + "/telegram/webhook", update) == 200
        else:
            api.user_message(2101, "/start", language_code="en")
        await api.wait_for("sendMessage", timeout=10, chat_id=2101)
        if not webhook:
            await go_round_the_menu(api, code)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, (err.decode() + out.decode())[-3000:]
    modules = json.loads(record.read_text(encoding="utf-8"))
    # The record is of the real thing: the bot's own libraries are in it.
    for used in ("telegram.ext", "sqlalchemy.orm", "aiohttp.web", "handlers.engine"):
        assert used in modules
    found = {package: loaded(modules, package) for package in NOT_LOADED + OTHER_COMMANDS}
    assert {package: names for package, names in found.items() if names} == {}
