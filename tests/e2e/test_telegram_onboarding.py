"""Joining with an invite over Telegram: deep link, typed code, refused codes, the lock-out."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from bot.runtime import Runtime
from db.invites import create_invite
from db.models import Member, Role, RoleGrant, Unit, UnitKind
from db.session import Database
from db.units import child_path, fold
from tests.e2e.telegram_support import TOKEN, TgUser, bot_running
from tests.fakes.telegram_api import FakeTelegramAPI


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI(token=TOKEN) as fake:
        yield fake
        fake.assert_no_violations()


@pytest.fixture
async def bot(api: FakeTelegramAPI, db: Database) -> AsyncIterator[Runtime]:
    async with bot_running(api, db) as rt:
        yield rt


@pytest.fixture
async def commune(db: Database) -> Unit:
    async with db.sessions() as s:
        unit = Unit(
            code="NA-NL-NH",
            name="Xã Nghi Hương",
            name_search=fold("Xã Nghi Hương"),
            kind=UnitKind.COMMUNE.value,
            depth=0,
        )
        s.add(unit)
        await s.flush()
        unit.path = child_path(None, unit.id)
        await s.commit()
    return unit


async def new_invite(db: Database, unit: Unit, role: Role = Role.OFFICER) -> str:
    async with db.sessions() as s:
        code = await create_invite(s, unit_id=unit.id, role=role)
        await s.commit()
    return code


async def grants(db: Database) -> list[tuple[str, str]]:
    async with db.sessions() as s:
        rows = await s.execute(
            select(Member.full_name, RoleGrant.role).join(
                RoleGrant, RoleGrant.member_id == Member.id
            )
        )
        return [(name, role) for name, role in rows.all()]


async def test_deep_link_join(
    api: FakeTelegramAPI, bot: Runtime, db: Database, commune: Unit
) -> None:
    code = await new_invite(db, commune)
    user = TgUser(api, 3001, first_name="Bình", last_name="Trần Thị")
    await user.say(f"/start inv_{code}")
    assert "commune officer" in user.text and "Xã Nghi Hương" in user.text
    await user.press("reg:me")
    assert "You are now commune officer of Xã Nghi Hương" in user.text
    assert await grants(db) == [("Bình Trần Thị", "officer")]
    await user.say("/me")
    assert "Bình Trần Thị" in user.text


async def test_typed_code_and_a_typed_name_with_markup(
    api: FakeTelegramAPI, bot: Runtime, db: Database, commune: Unit
) -> None:
    code = await new_invite(db, commune, Role.FORCE)
    user = TgUser(api, 3002)
    await user.say("/start")
    await user.press("m:join")
    assert "invite code" in user.text
    await user.say(f"{code[:4]} {code[4:8]}-{code[8:]}".lower())  # as people type it
    await user.press("reg:other")
    await user.say("Lê <b>Văn</b> & Co")
    assert "Lê <b>Văn</b> & Co" in user.text  # escaped, so shown as typed (the fake parses HTML)
    await user.press("reg:ok")
    assert "You are now" in user.text
    assert await grants(db) == [("Lê <b>Văn</b> & Co", "force")]


async def test_wrong_codes_lock_code_entry(
    api: FakeTelegramAPI, bot: Runtime, db: Database, commune: Unit
) -> None:
    good = await new_invite(db, commune)
    user = TgUser(api, 3003)
    await user.say("/start inv_WRONGCODE1")
    assert "does not exist" in user.text
    for attempt in range(2, 6):
        await user.say(f"BADCODE{attempt:05d}")
    assert "Too many wrong invite codes" in user.text
    await user.say(f"/start inv_{good}")  # even the right code waits for the lock
    assert "Too many wrong invite codes" in user.text
    async with db.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(RoleGrant)) == 0
