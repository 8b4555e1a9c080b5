"""Joining with an invite, through the engine on real PostgreSQL: deep link, typed code,
names, refused codes, the lock-out, /cancel, /me."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from db.invites import create_invite
from db.models import (
    Audit,
    Conversation,
    Invite,
    Member,
    RateCount,
    Role,
    RoleGrant,
    Unit,
    UnitKind,
)
from db.session import Database
from db.units import child_path, fold
from handlers.engine import Engine
from tests.support import Clock, Person

# --- helpers shared with test_admin.py ------------------------------------------


async def add_unit(
    session: AsyncSession, code: str, name: str, kind: UnitKind, parent: Unit | None = None
) -> Unit:
    """Insert a unit with a correct materialised path."""
    unit = Unit(
        code=code,
        name=name,
        name_search=fold(name),
        kind=kind.value,
        parent_id=parent.id if parent else None,
        depth=parent.depth + 1 if parent else 0,
    )
    session.add(unit)
    await session.flush()
    unit.path = child_path(parent.path if parent else None, unit.id)
    await session.flush()
    return unit


@dataclass(frozen=True)
class Tree:
    """Province > district > two communes, and a second district with one commune."""

    province: Unit
    district: Unit
    commune_a: Unit
    commune_b: Unit
    other_district: Unit
    other_commune: Unit


async def make_tree(db: Database) -> Tree:
    async with db.sessions() as s:
        province = await add_unit(s, "NA", "Tỉnh Nghệ An", UnitKind.PROVINCE)
        district = await add_unit(s, "NA-NL", "Huyện Nghi Lộc", UnitKind.DISTRICT, province)
        commune_a = await add_unit(s, "NA-NL-NH", "Xã Nghi Hương", UnitKind.COMMUNE, district)
        commune_b = await add_unit(s, "NA-NL-NT", "Xã Nghi Thạch", UnitKind.COMMUNE, district)
        other_district = await add_unit(s, "NA-DC", "Huyện Diễn Châu", UnitKind.DISTRICT, province)
        other_commune = await add_unit(
            s, "NA-DC-DH", "Xã Diễn Hải", UnitKind.COMMUNE, other_district
        )
        await s.commit()
    return Tree(province, district, commune_a, commune_b, other_district, other_commune)


async def invite(
    db: Database,
    unit: Unit,
    role: Role = Role.OFFICER,
    *,
    clock: Clock | None = None,
    max_uses: int = 1,
    days: float = 7,
) -> str:
    async with db.sessions() as s:
        code = await create_invite(
            s,
            unit_id=unit.id,
            role=role,
            max_uses=max_uses,
            days=days,
            now=(clock or Clock()).now,
        )
        await s.commit()
    return code


def make_engine(db: Database, clock: Clock | None = None, **settings: object) -> Engine:
    return Engine(db, Settings(**settings), clock=clock or Clock())  # type: ignore[arg-type]


async def count(db: Database, model: type, *where: object) -> int:
    async with db.sessions() as s:
        return await s.scalar(select(func.count()).select_from(model).where(*where)) or 0  # type: ignore[arg-type]


async def hits(db: Database, kind: str) -> int:
    """Hits counted for ``kind`` (keyed five-minute buckets)."""
    async with db.sessions() as s:
        return await s.scalar(select(func.sum(RateCount.count)).where(RateCount.kind == kind)) or 0


# --- fixtures -------------------------------------------------------------------


@pytest.fixture
async def tree(db: Database) -> Tree:
    return await make_tree(db)


@pytest.fixture
def clock() -> Clock:
    # 02:00 UTC is 09:00 in Hà Nội.
    return Clock(dt.datetime(2025, 5, 5, 2, 0, tzinfo=dt.UTC))


# --- joining --------------------------------------------------------------------


async def test_deep_link_join_confirms_display_name(db: Database, tree: Tree, clock: Clock) -> None:
    code = await invite(db, tree.commune_a, Role.OFFICER, clock=clock)
    person = Person(make_engine(db, clock), "500", name="Trần Thị Bình", language_code="en")
    await person.say(f"/start inv_{code}")
    assert "Xã Nghi Hương" in person.text and "commune officer" in person.text
    yes = person.choice_labelled("Yes, that's me")
    assert "Trần Thị Bình" in next(c.label for m in person.last for c in m.choices if c.id == yes)
    await person.press(yes)
    assert "You are now commune officer of Xã Nghi Hương." in person.text
    async with db.sessions() as s:
        member = await s.scalar(select(Member))
        grant = await s.scalar(select(RoleGrant))
        used = await s.scalar(select(Invite.uses))
        actions = set((await s.scalars(select(Audit.action))).all())
    assert member is not None and member.full_name == "Trần Thị Bình"
    assert grant is not None and grant.unit_id == tree.commune_a.id and grant.role == "officer"
    assert grant.member_id == member.id and grant.revoked_at is None
    assert used == 1
    assert {"role.grant", "invite.redeem"} <= actions


async def test_a_display_name_that_is_no_full_name_is_asked_for(
    db: Database, tree: Tree, clock: Clock
) -> None:
    code = await invite(db, tree.commune_a, Role.OFFICER, clock=clock)
    person = Person(make_engine(db, clock), "509", name="hung99", language_code="en")
    await person.say(f"/start inv_{code}")
    assert "Xã Nghi Hương" in person.text and "commune officer" in person.text
    # "hung99" is neither offered nor taken in one tap: the full name is asked for.
    assert "hung99" not in person.text
    assert not any("hung99" in c.label for m in person.last for c in m.choices)
    await person.say("Trần Thị Bình")
    assert "Please check and confirm" in person.text and "Trần Thị Bình" in person.text
    await person.press("reg:ok")
    assert "You are now commune officer of Xã Nghi Hương." in person.text


async def test_typed_code_with_another_name(db: Database, tree: Tree, clock: Clock) -> None:
    code = await invite(db, tree.district, Role.ADMIN, clock=clock)
    person = Person(make_engine(db, clock), "501", name="tb99", language_code="en")
    await person.say("/start")
    assert "m:members" not in person.choices
    await person.press(person.choice_labelled("Join with an invite code"))
    assert "invite code" in person.text
    # People type codes in lower case, with spaces or dashes.
    await person.say(f"  {code[:4].lower()}-{code[4:8]} {code[8:]} ")
    assert "Huyện Nghi Lộc" in person.text and "administrator" in person.text
    async with db.sessions() as s:  # the code is a secret: only the invite's id is kept
        kept = json.dumps(await s.scalar(select(Conversation.data)))
    assert code not in kept and code.lower() not in kept and '"invite_id"' in kept
    await person.say("A")  # too short
    assert "2 to 100 characters" in person.text
    await person.say("  Lê   Văn <Cường>  ")
    assert "Please check and confirm" in person.text
    assert "Lê Văn <Cường>" in person.text
    assert any("&lt;Cường&gt;" in m.text for m in person.last), "the name is escaped"
    await person.press("reg:ok")
    assert "You are now administrator of Huyện Nghi Lộc." in person.text
    assert "m:members" in person.choices, "the menu for the new role"
    async with db.sessions() as s:
        name = await s.scalar(select(Member.full_name))
    assert name == "Lê Văn <Cường>"


async def test_name_typed_instead_of_pressing_yes(db: Database, tree: Tree) -> None:
    code = await invite(db, tree.commune_b, Role.FORCE)
    person = Person(make_engine(db), "502", name="Bình", language_code="en")
    await person.say(f"/start inv_{code}")
    await person.say("Phạm Thị Dung")
    assert "Please check and confirm" in person.text
    await person.say("Confirm")  # typing the label works like pressing it
    assert "grassroots security force member of Xã Nghi Thạch" in person.text
    async with db.sessions() as s:
        assert await s.scalar(select(Member.full_name)) == "Phạm Thị Dung"


async def test_empty_display_name_asks_for_the_name(db: Database, tree: Tree) -> None:
    code = await invite(db, tree.commune_a, Role.OFFICER)
    person = Person(make_engine(db), "503", name="", language_code="en")
    await person.say(f"/start inv_{code}")
    assert "type your full name" in person.text
    assert not any(c.startswith("reg:me") for c in person.choices)


async def test_vietnamese_by_default(db: Database, tree: Tree) -> None:
    code = await invite(db, tree.commune_a, Role.OFFICER)
    person = Person(make_engine(db), "504", name="Hồ Văn E", language_code=None)
    await person.say(f"/start inv_{code}")
    assert "Mã mời này cấp cho bạn vai trò cán bộ cấp xã tại Xã Nghi Hương." in person.text
    await person.press(person.choice_labelled("Đúng, tôi là: Hồ Văn E"))
    assert "Từ nay bạn là cán bộ cấp xã tại Xã Nghi Hương." in person.text


async def test_me_after_joining_shows_unit_and_role(db: Database, tree: Tree) -> None:
    code = await invite(db, tree.commune_a, Role.FORCE)
    person = Person(make_engine(db), "505", name="Đặng Văn F", language_code="en")
    await person.say(f"/start inv_{code}")
    await person.press("reg:me")
    await person.say("/me")
    assert "Đặng Văn F" in person.text
    assert "grassroots security force member of Xã Nghi Hương" in person.text


async def test_already_holding_the_role(db: Database, tree: Tree) -> None:
    first = await invite(db, tree.commune_a, Role.OFFICER)
    second = await invite(db, tree.commune_a, Role.OFFICER)
    person = Person(make_engine(db), "506", name="Ngô Văn G", language_code="en")
    await person.say(f"/start inv_{first}")
    await person.press("reg:me")
    await person.say(f"/start inv_{second}")
    assert "You are already commune officer of Xã Nghi Hương." in person.text
    async with db.sessions() as s:
        uses = (await s.scalars(select(Invite.uses).order_by(Invite.id))).all()
    assert list(uses) == [1, 0], "the second invite is not spent"


async def test_cancel_mid_flow_writes_nothing(db: Database, tree: Tree) -> None:
    code = await invite(db, tree.commune_a, Role.OFFICER)
    person = Person(make_engine(db), "507", name="Vũ Văn H", language_code="en")
    await person.say(f"/start inv_{code}")
    await person.press("reg:other")
    await person.say("Vũ Văn Hùng")
    await person.say("/cancel")
    assert "Cancelled. Nothing was saved." in person.text
    assert await count(db, Member) == 0
    assert await count(db, RoleGrant) == 0
    assert await count(db, Audit, Audit.action != "invite.create") == 0
    async with db.sessions() as s:
        assert await s.scalar(select(Invite.uses)) == 0


async def test_cancel_button_writes_nothing(db: Database, tree: Tree) -> None:
    code = await invite(db, tree.commune_a, Role.OFFICER)
    person = Person(make_engine(db), "508", language_code="en")
    await person.say(f"/start inv_{code}")
    await person.press("reg:cancel")
    assert "Nothing was saved" in person.text
    assert await count(db, Member) == 0


async def test_cancel_typed_on_a_channel_without_buttons(db: Database, tree: Tree) -> None:
    person = Person(make_engine(db), "509", language_code="en")
    await person.press("m:join")
    await person.say("1")  # Zalo: the number of the "Cancel" entry
    assert "Nothing was saved" in person.text
    assert await count(db, RateCount) == 0, "not counted as a wrong code"


# --- refused codes --------------------------------------------------------------


async def test_unknown_code(db: Database, tree: Tree) -> None:
    person = Person(make_engine(db), "510", language_code="en")
    await person.say("/start inv_ABCDEFGHJKMN")
    assert "This invite code does not exist" in person.text
    assert "type the invite code" in person.text, "asked again"
    await person.say("nope")
    assert "does not exist" in person.text
    assert await hits(db, "invite_fail") == 2


async def test_expired_code(db: Database, tree: Tree, clock: Clock) -> None:
    code = await invite(db, tree.commune_a, clock=clock, days=1)
    clock.advance(days=1, seconds=1)
    person = Person(make_engine(db, clock), "511", language_code="en")
    await person.press("m:join")
    await person.say(code)
    assert "This invite code has expired" in person.text
    assert "type the invite code" in person.text


async def test_used_up_code(db: Database, tree: Tree) -> None:
    code = await invite(db, tree.commune_a, max_uses=1)
    engine = make_engine(db)
    first = Person(engine, "512", language_code="en")
    await first.say(f"/start inv_{code}")
    await first.press("reg:me")
    second = Person(engine, "513", language_code="en")
    await second.say(f"/start inv_{code}")
    assert "This invite code has already been used" in second.text


async def test_revoked_code(db: Database, tree: Tree) -> None:
    code = await invite(db, tree.commune_a)
    async with db.sessions() as s:
        row = await s.scalar(select(Invite))
        assert row is not None
        row.revoked_at = dt.datetime(2025, 5, 1, tzinfo=dt.UTC)
        await s.commit()
    person = Person(make_engine(db), "514", language_code="en")
    await person.say(f"/start inv_{code}")
    assert "This invite code has been withdrawn" in person.text


async def test_refusal_messages_differ() -> None:
    from handlers.register import REFUSALS

    texts = [make() for make in REFUSALS.values()]
    assert len(set(texts)) == len(texts) == 4


async def test_a_conversation_saved_with_a_plain_code_asks_for_the_code_again(
    db: Database, tree: Tree
) -> None:
    """Conversations saved before invite ids kept the code itself: it is not trusted."""
    code = await invite(db, tree.commune_a)
    person = Person(make_engine(db), "519", name="Hồ Văn Tâm", language_code="en")
    await person.say(f"/start inv_{code}")
    async with db.sessions() as s:
        row = await s.scalar(select(Conversation))
        assert row is not None and row.flow == "register"
        row.data = {"code": code, "name": "Hồ Văn Tâm", "role": "officer", "unit_name": "x"}
        await s.commit()
    await person.press("reg:me")
    assert "type the invite code" in person.text
    assert await count(db, RoleGrant) == 0
    await person.say(code)
    await person.press("reg:me")
    assert "You are now" in person.text and await count(db, RoleGrant) == 1


async def test_code_used_up_between_question_and_confirmation(db: Database, tree: Tree) -> None:
    code = await invite(db, tree.commune_a, max_uses=1)
    engine = make_engine(db)
    slow = Person(engine, "515", language_code="en")
    fast = Person(engine, "516", language_code="en")
    await slow.say(f"/start inv_{code}")
    await fast.say(f"/start inv_{code}")
    await fast.press("reg:me")
    await slow.press("reg:me")
    assert "already been used" in slow.text
    assert "type the invite code" in slow.text
    assert await count(db, RoleGrant) == 1


# --- the lock-out ---------------------------------------------------------------


async def test_five_wrong_codes_lock_for_an_hour(db: Database, tree: Tree, clock: Clock) -> None:
    good = await invite(db, tree.commune_a, clock=clock, days=2)
    person = Person(make_engine(db, clock), "520", language_code="en")
    await person.press("m:join")
    for i in range(4):
        clock.advance(minutes=5)
        await person.say(f"WRONG{i}")
        assert "does not exist" in person.text and "locked" not in person.text
    clock.advance(minutes=5)  # 02:25 UTC = 09:25 local
    await person.say("WRONG4")
    assert "does not exist" in person.text
    # Counted in 5-minute buckets: the lock runs from the end of 09:25's bucket.
    assert "locked until 10:30" in person.text

    # While locked the code is not even looked at: a correct one is refused too.
    clock.advance(minutes=30)
    await person.say(f"/start inv_{good}")
    assert "locked until 10:30" in person.text
    await person.press("m:join")
    assert "locked until 10:30" in person.text
    await person.say(good)
    assert "You are now" not in person.text
    assert await hits(db, "invite_fail") == 5
    assert await count(db, RoleGrant) == 0
    async with db.sessions() as s:
        assert await s.scalar(select(Invite.uses)) == 0

    clock.advance(minutes=36)  # past 10:30 local
    await person.press("m:join")
    await person.say(good)
    await person.press("reg:me")
    assert "You are now commune officer of Xã Nghi Hương." in person.text


async def test_old_failures_do_not_count(db: Database, tree: Tree, clock: Clock) -> None:
    person = Person(make_engine(db, clock), "521", language_code="en")
    await person.press("m:join")
    for i in range(4):
        await person.say(f"WRONG{i}")
    clock.advance(minutes=66)  # an hour after the end of their 5-minute bucket
    await person.press("m:join")
    await person.say("WRONG4")
    assert "locked" not in person.text
    assert "type the invite code" in person.text


async def test_lock_resets_after_it_ends(db: Database, tree: Tree, clock: Clock) -> None:
    person = Person(make_engine(db, clock), "522", language_code="en")
    await person.press("m:join")
    for i in range(5):
        await person.say(f"WRONG{i}")
    assert "locked" in person.text
    clock.advance(minutes=60)
    await person.press("m:join")
    await person.say("WRONG5")
    assert "locked" not in person.text, "failures before the lock are not counted again"


async def test_lock_is_per_person(db: Database, tree: Tree, clock: Clock) -> None:
    good = await invite(db, tree.commune_a, clock=clock)
    engine = make_engine(db, clock)
    guesser = Person(engine, "523", language_code="en")
    await guesser.press("m:join")
    for i in range(5):
        await guesser.say(f"WRONG{i}")
    other = Person(engine, "524", language_code="en")
    await other.say(f"/start inv_{good}")
    await other.press("reg:me")
    assert "You are now" in other.text


async def test_lock_settings_are_honoured(db: Database, tree: Tree, clock: Clock) -> None:
    engine = make_engine(db, clock, invite_max_failures=2, invite_lock_minutes=10)
    person = Person(engine, "525", language_code="en")
    await person.say("/start inv_WRONG1")
    await person.say("WRONG2")
    assert "locked until 09:15" in person.text  # from the end of 09:00's 5-minute bucket
