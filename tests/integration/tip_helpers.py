"""Fixtures for the tip tests: a small unit tree with coordinates, categories, officers.

Units and categories are inserted directly (the importers are tested elsewhere);
``unit.path`` is kept right with ``db.units.child_path``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from bot.config import Settings
from db.members import ensure_member, grant_role, identity_for
from db.models import Identity, Outbox, Role, TipCategory, Unit
from db.sealed import payload_messages
from db.session import Database
from db.units import child_path, fold
from handlers.engine import Engine
from handlers.types import MediaRef, Message, message_from_json
from tests.support import TEST_KEY, Clock, Person

CATEGORIES = [
    ("crime", "Tội phạm hình sự", "Criminal offence"),
    ("drugs", "Ma túy", "Drugs"),
    ("traffic", "Vi phạm trật tự an toàn giao thông", "Traffic-safety violation"),
    (
        "cyber",
        "Tội phạm sử dụng công nghệ cao, lừa đảo trên mạng",
        "High-tech crime and online fraud",
    ),
    ("fire", "Nguy cơ cháy nổ", "Fire hazard"),
    ("other", "Khác", "Other"),
]
CODE = re.compile(r"\b\d{4}-\d{4}-\d{4}-\d{4}\b")
PHOTO = MediaRef("photo", "photo-file-1", mime="image/jpeg", size=1000)
VIDEO = MediaRef("video", "video-file-1", mime="video/mp4", size=50000)
VOICE = MediaRef("voice", "voice-file-1", mime="audio/ogg", size=3000)
DOC = MediaRef("document", "doc-file-1", mime="application/pdf", size=7000)


@dataclass
class World:
    units: dict[str, int] = field(default_factory=dict)
    members: dict[str, int] = field(default_factory=dict)


async def add_unit(
    session: Any,
    code: str,
    name: str,
    kind: str,
    parent: Unit | None = None,
    lat: float | None = None,
    lon: float | None = None,
) -> Unit:
    unit = Unit(
        code=code,
        name=name,
        name_search=fold(name),
        kind=kind,
        parent_id=parent.id if parent else None,
        depth=(parent.depth + 1) if parent else 0,
        lat=lat,
        lon=lon,
    )
    session.add(unit)
    await session.flush()
    unit.path = child_path(parent.path if parent else None, unit.id)
    await session.flush()
    return unit


# user id -> (name, [(unit code, role)])
STAFF: dict[str, tuple[str, list[tuple[str, Role]]]] = {
    "o-nh": ("Trần Thị Hoa", [("nghi-huong", Role.OFFICER)]),
    "f-nh": ("Lê Văn Lực", [("nghi-huong", Role.FORCE)]),
    "o-bt": ("Đặng Văn Bình", [("ben-thuy", Role.OFFICER)]),
    "s-vinh": ("Phạm Minh Sơn", [("vinh", Role.SUPERVISOR)]),
    "s-tinh": ("Hoàng Quốc Tỉnh", [("nghe-an", Role.SUPERVISOR)]),
}


async def make_world(db: Database, *, communes_in_hung_nguyen: int = 12) -> World:
    world = World()
    async with db.sessions() as s:
        for code, vi, en in CATEGORIES:
            s.add(TipCategory(code=code, title_vi=vi, title_en=en, sort=len(world.units)))
        province = await add_unit(s, "nghe-an", "Tỉnh Nghệ An", "province")
        vinh = await add_unit(s, "vinh", "Thành phố Vinh", "city", province, 18.67, 105.68)
        nghi_loc = await add_unit(
            s, "nghi-loc", "Huyện Nghi Lộc", "district", province, 18.80, 105.60
        )
        hung = await add_unit(s, "hung-nguyen", "Huyện Hưng Nguyên", "district", province)
        units = [province, vinh, nghi_loc, hung]
        units.append(
            await add_unit(s, "nghi-huong", "Phường Nghi Hương", "ward", vinh, 18.79, 105.72)
        )
        units.append(await add_unit(s, "ben-thuy", "Phường Bến Thủy", "ward", vinh, 18.64, 105.70))
        units.append(await add_unit(s, "nghi-thach", "Xã Nghi Thạch", "commune", nghi_loc))
        for i in range(1, communes_in_hung_nguyen + 1):
            units.append(
                await add_unit(s, f"hung-{i:02d}", f"Xã Hưng Thôn {i:02d}", "commune", hung)
            )
        world.units = {u.code: u.id for u in units}
        for user_id, (name, grants) in STAFF.items():
            identity = await identity_for(s, "test", user_id, display_name=name, language="en")
            member = await ensure_member(s, identity, name)
            world.members[user_id] = member.id
            for unit_code, role in grants:
                await grant_role(s, member.id, world.units[unit_code], role, granted_by=None)
        await s.commit()
    return world


TEST_SETTINGS = Settings(secret_key=TEST_KEY)  # type: ignore[arg-type]


def make_engine(db: Database, clock: Clock | None = None, **settings: Any) -> Engine:
    settings.setdefault("secret_key", TEST_KEY)
    return Engine(db, Settings(**settings), clock=clock or Clock())


def staff(engine: Engine, user_id: str) -> Person:
    return Person(engine, user_id, name=STAFF[user_id][0], language_code="en")


async def send_tip(
    person: Person,
    *,
    category: str = "drugs",
    text: str = "People sell drugs behind the market every evening.",
    place: str = "nghi huong",
    media: Sequence[MediaRef] = (),
    phone: str | None = None,
    start: str = "m:tip",
) -> str:
    """Drive the whole flow; the tracking code shown at the end."""
    if start.startswith("/"):
        await person.say(start)
    else:
        await person.press(start)
    await person.press(f"tip:cat:{category}")
    await person.say(text)
    for ref in media:
        await person.send_media(ref)
    await person.press("tip:done")
    if "tip:skip" not in person.choices:
        await person.say(place)
    await person.press("tip:skip")
    if phone is not None:
        await person.share_contact(phone)
    else:
        await person.press("tip:anon")
    await person.press("tip:send")
    found = CODE.search(person.text)
    assert found, person.text
    return found.group(0)


async def identity_id(db: Database, user_id: str) -> int:
    async with db.sessions() as s:
        found = await s.scalar(select(Identity.id).where(Identity.external_id == user_id))
    assert found is not None
    return found


async def outbox_of(db: Database, user_id: str) -> list[Outbox]:
    async with db.sessions() as s:
        stmt = (
            select(Outbox)
            .join(Identity, Identity.id == Outbox.identity_id)
            .where(Identity.external_id == user_id)
            .order_by(Outbox.id)
        )
        return list((await s.execute(stmt)).scalars().all())


def messages_of(row: Outbox) -> list[Message]:
    """A row's messages; those to a reporter are sealed under the tests' key."""
    return [message_from_json(m) for m in payload_messages(TEST_SETTINGS, row.payload)]


def outbox_text(rows: Sequence[Outbox]) -> str:
    return "\n".join(m.text for r in rows for m in messages_of(r))


def outbox_choices(rows: Sequence[Outbox]) -> list[str]:
    return [c.id for r in rows for m in messages_of(r) for c in m.choices]
