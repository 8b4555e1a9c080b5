"""The broadcast flow on real PostgreSQL: every step and its bad input, scope refusals,
the approval rule, fan-out (batches, retried, members and citizens once each), cancel,
and the outbox claiming personal rows before announcements."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select, update

from bot.config import Settings
from db.members import grant_role, identity_for
from db.models import Audit, Broadcast, Identity, Outbox, Role, Subscription
from db.session import Database, UnitOfWork
from handlers.types import MediaRef
from scheduler.broadcast import fan_out, fan_out_due
from scheduler.outbox import OutboxSender
from tests.integration.test_outbox import ScriptedChannel as FakeChannel
from tests.integration.tip_helpers import World, make_engine, make_world, staff
from tests.support import Clock, Person

MORNING = dt.datetime(2025, 5, 5, 2, 0, tzinfo=dt.UTC)  # 09:00 in Hanoi
PHOTO = MediaRef("photo", "ph-leaflet", size=200_000)


async def add_admins(db: Database, world: World, *names: str) -> None:
    async with db.sessions() as s:
        for user_id in names:
            identity = await identity_for(s, "test", user_id, display_name=user_id, language="en")
            from db.members import ensure_member

            member = await ensure_member(s, identity, f"Admin {user_id}")
            world.members[user_id] = member.id
            await grant_role(s, member.id, world.units["nghe-an"], Role.ADMIN, granted_by=None)
        await s.commit()


async def add_subscribers(db: Database, unit_id: int, first: int, count: int) -> None:
    async with db.sessions() as s:
        for n in range(first, first + count):
            identity = await identity_for(s, "test", f"c-{n}", language="vi")
            s.add(Subscription(identity_id=identity.id, unit_id=unit_id, created_at=MORNING))
        await s.commit()


async def audits(db: Database, action: str) -> list[Audit]:
    async with db.sessions() as s:
        stmt = select(Audit).where(Audit.action == action).order_by(Audit.id)
        return list((await s.execute(stmt)).scalars().all())


async def broadcast_rows(db: Database) -> list[Broadcast]:
    async with db.sessions() as s:
        return list((await s.execute(select(Broadcast).order_by(Broadcast.id))).scalars().all())


async def outbox_count(db: Database, **where: Any) -> int:
    async with db.sessions() as s:
        stmt = select(func.count()).select_from(Outbox).filter_by(**where)
        return int(await s.scalar(stmt) or 0)


async def compose(person: Person, text: str = "Cảnh báo: lừa đảo qua mạng.") -> None:
    await person.say("/broadcast")
    await person.say(text)
    await person.press("bc:skip")


async def test_every_step_with_its_bad_input(db: Database) -> None:
    world = await make_world(db)
    clock = Clock(MORNING)
    engine = make_engine(db, clock)
    sup = staff(engine, "s-vinh")  # supervisor of Thành phố Vinh: one root, no unit step

    await sup.say("/broadcast")
    assert "Announcement to Thành phố Vinh" in sup.text
    await sup.say("   ")
    assert "The announcement needs a text." in sup.text and "Send its text" in sup.text
    await sup.say("x" * 4090)  # with the heading, over 4096
    assert "the limit is 4096" in sup.text and "Send its text" in sup.text
    await sup.send_media(MediaRef("document", "big", size=21 * 1024 * 1024), caption="Tờ rơi")
    assert "The file is too large: the limit is 20 MB." in sup.text
    await sup.send_media(PHOTO, caption="y" * 1000)  # a caption over 1024 with its heading
    assert "the limit is 1024" in sup.text and "The file is kept" in sup.text
    await sup.say("Cảnh giác <b>lừa đảo</b> qua mạng & điện thoại.")
    assert "web page" in sup.text
    await sup.say("Xem http://not-secure.example")
    assert "https://" in sup.text and "bc:skip" in sup.choices
    await sup.say("Xem chi tiết https://congan.nghean.gov.vn/canh-bao")
    assert "Who in Thành phố Vinh should receive it?" in sup.text

    await sup.press("bc:next")
    assert "Select at least one group." in sup.text
    await sup.press("bc:a:citizens")
    await sup.press("bc:next")  # no subscribers in Vinh yet
    assert "Nobody in this audience can receive it yet." in sup.text
    await sup.press("bc:area")  # narrow the area to a ward, then back to the city
    await sup.press(f"bc:u:{world.units['hung-01']}")  # forged: outside Vinh
    assert "outside your area" in sup.text
    await sup.say("Bến Thủy")
    assert "Who in Phường Bến Thủy should receive it?" in sup.text
    await sup.press("bc:area")
    await sup.press(f"bc:u:{world.units['vinh']}")
    await sup.press("bc:a:officer")
    labels = [c.label for m in sup.last for c in m.choices]
    assert "✅ Commune officers" in labels and "✅ Subscribed citizens" in labels
    await add_subscribers(db, world.units["ben-thuy"], 1, 3)
    await sup.press("bc:next")
    # Officers of Nghi Hương and Bến Thủy (English), three subscribers of Bến Thủy (Vietnamese).
    assert "Recipients: 5" in sup.text
    assert "By channel: Test 5" in sup.text
    assert "By language: English 2, Vietnamese 3" in sup.text
    preview = sup.last[1]
    assert preview.files == (PHOTO.__class__("photo", "ph-leaflet", name=None),)
    assert preview.text.startswith("📢 <b>Announcement from Thành phố Vinh</b>")
    assert "Cảnh giác &lt;b&gt;lừa đảo&lt;/b&gt; qua mạng &amp; điện thoại." in preview.text
    assert preview.link == ("Xem chi tiết", "https://congan.nghean.gov.vn/canh-bao")

    await sup.press("bc:at")
    await sup.say("tomorrow")
    assert "DD/MM/YYYY HH:MM" in sup.text
    await sup.say("05/05/2025 08:59")  # a minute before now (09:00 in Hanoi)
    assert "That time has already passed." in sup.text
    await sup.say("31/02/2025 10:00")
    assert "DD/MM/YYYY HH:MM" in sup.text
    await sup.say("05/05/2025 10:30")
    assert "When: 10:30 05/05/2025" in sup.text and "Recipients: 5" in sup.text
    assert await outbox_count(db) == 0  # nothing queued before the confirmation
    await sup.press("bc:ok")
    assert "will go out at 10:30 05/05/2025" in sup.text

    [b] = await broadcast_rows(db)
    assert b.status == "scheduled" and b.recipients == 5
    assert b.send_at == dt.datetime(2025, 5, 5, 3, 30, tzinfo=dt.UTC)
    assert b.audience == {"roles": ["officer"], "citizens": True}
    assert set(b.messages) == {"member", "citizen"} and set(b.messages["citizen"]) == {"vi", "en"}
    [created] = await audits(db, "broadcast.create")
    assert created.object_id == str(b.id) and created.actor_member_id == world.members["s-vinh"]

    settings = Settings()
    assert await fan_out_due(db, settings, MORNING) == 0  # not yet 10:30
    assert await outbox_count(db) == 0
    assert await fan_out_due(db, settings, MORNING + dt.timedelta(hours=2)) == 1
    assert await outbox_count(db, broadcast_id=b.id) == 5
    async with db.sessions() as s:
        kinds = sorted(
            (
                await s.execute(
                    select(Outbox.payload["as"].astext).where(Outbox.broadcast_id == b.id)
                )
            )
            .scalars()
            .all()
        )
    assert kinds == ["citizen", "citizen", "citizen", "member", "member"]
    [b] = await broadcast_rows(db)
    assert b.status == "sending" and b.recipients == 5
    assert len(await audits(db, "broadcast.queued")) == 1


async def test_scope_refusals(db: Database) -> None:
    world = await make_world(db)
    engine = make_engine(db, Clock(MORNING))
    async with db.sessions() as s:  # a supervisor of two districts picks the unit first
        await grant_role(
            s, world.members["s-vinh"], world.units["nghi-loc"], Role.SUPERVISOR, granted_by=None
        )
        await s.commit()
    sup = staff(engine, "s-vinh")
    await sup.say("/broadcast")
    roots = {f"bc:u:{world.units['vinh']}", f"bc:u:{world.units['nghi-loc']}"}
    assert roots <= set(sup.choices)
    await sup.press(f"bc:u:{world.units['hung-01']}")  # forged: Hưng Nguyên is not theirs
    assert "outside your area" in sup.text and "Which unit's area" in sup.text
    await sup.say("Hưng Thôn 01")
    assert 'No unit of your area is called "Hưng Thôn 01"' in sup.text
    await sup.say("nghi thach")  # a commune below Nghi Lộc: allowed
    assert "Announcement to Xã Nghi Thạch" in sup.text
    assert len(await audits(db, "broadcast.refused")) == 1

    officer = staff(engine, "o-nh")  # an officer is not an author
    await officer.say("/broadcast")
    assert "Only administrators and supervisors can send announcements." in officer.text
    assert "m:broadcast" not in officer.choices


async def test_approval_by_a_second_admin(db: Database) -> None:
    world = await make_world(db)
    await add_admins(db, world, "a-1", "a-2")
    engine = make_engine(db, Clock(MORNING), broadcast_approval_threshold=1)
    author, other = staff_like(engine, "a-1"), staff_like(engine, "a-2")
    await compose(author)
    await author.press("bc:a:officer")
    await author.press("bc:next")
    assert "Recipients: 2" in author.text  # the two officers of the province
    await author.press("bc:now")
    assert "a second administrator must approve it" in author.text
    await author.press("bc:ok")
    assert "waits for a second administrator's approval (1 asked)" in author.text
    [b] = await broadcast_rows(db)
    assert b.status == "approval"
    assert await fan_out_due(db, Settings(), MORNING + dt.timedelta(hours=1)) == 0

    async with db.sessions() as s:  # the request went to a-2 only, with the preview
        stmt = (
            select(Identity.external_id, Outbox.payload)
            .join(Identity, Identity.id == Outbox.identity_id)
            .where(Outbox.dedup_key.like("bc-approve:%"))
        )
        asked = (await s.execute(stmt)).all()
    assert [a[0] for a in asked] == ["a-2"]
    texts = " ".join(m["text"] for m in asked[0][1]["messages"])
    assert "needs your approval" in texts and "Cảnh báo: lừa đảo qua mạng." in texts

    await author.press(f"bcx:ok:{b.id}")
    assert "another administrator must approve it" in author.text
    sup = staff(engine, "s-tinh")  # a supervisor, not an admin
    await sup.press(f"bcx:ok:{b.id}")
    assert "Only an administrator above its unit can approve it." in sup.text
    await other.press(f"bcx:ok:{b.id}")
    assert f"Approved: announcement #{b.id}" in other.text
    [b] = await broadcast_rows(db)
    assert b.status == "scheduled" and b.approved_by == world.members["a-2"]
    assert [a.action for a in await audits(db, "broadcast.approved")] == ["broadcast.approved"]
    assert len(await audits(db, "broadcast.approval_requested")) == 1
    await other.press(f"bcx:ok:{b.id}")
    assert "no longer waits for approval" in other.text


def staff_like(engine: Any, user_id: str) -> Person:
    return Person(engine, user_id, name=user_id, language_code="en")


async def test_fan_out_is_batched_idempotent_and_counts_each_person_once(db: Database) -> None:
    world = await make_world(db)
    await add_admins(db, world, "a-1")
    await add_subscribers(db, world.units["nghi-huong"], 1, 23)
    async with db.sessions() as s:  # the officer of Nghi Hương also subscribed
        officer = await s.scalar(select(Identity).where(Identity.external_id == "o-nh"))
        assert officer is not None
        s.add(
            Subscription(
                identity_id=officer.id, unit_id=world.units["nghi-huong"], created_at=MORNING
            )
        )
        await s.commit()
    engine = make_engine(db, Clock(MORNING))
    author = staff_like(engine, "a-1")
    await compose(author)
    await author.press("bc:a:officer")
    await author.press("bc:a:citizens")
    await author.press("bc:next")
    assert "Recipients: 25" in author.text  # 2 officers + 23 citizens; o-nh counted once
    await author.press("bc:now")
    await author.press("bc:ok")
    [b] = await broadcast_rows(db)
    settings = Settings(broadcast_fanout_batch=5)
    assert await fan_out(db, settings, b.id) == 5  # 25 in batches of 5
    assert await outbox_count(db, broadcast_id=b.id) == 25
    # A retried fan-out (a crash before the status moved on) queues nothing twice.
    async with db.sessions() as s:
        await s.execute(
            update(Broadcast).where(Broadcast.id == b.id).values(status="fanout", fanout_cursor=0)
        )
        await s.commit()
    await fan_out(db, settings, b.id)
    assert await outbox_count(db, broadcast_id=b.id) == 25
    async with db.sessions() as s:
        as_member = await s.scalar(
            select(Outbox.payload["as"].astext).where(
                Outbox.broadcast_id == b.id, Outbox.identity_id == officer.id
            )
        )
    assert as_member == "member"


async def test_cancel_stops_what_is_not_sent(db: Database) -> None:
    world = await make_world(db)
    await add_admins(db, world, "a-1")
    await add_subscribers(db, world.units["ben-thuy"], 1, 12)
    engine = make_engine(db, Clock(MORNING))
    author = staff_like(engine, "a-1")
    await compose(author)
    await author.press("bc:a:citizens")
    await author.press("bc:next")
    await author.press("bc:now")
    await author.press("bc:ok")
    [b] = await broadcast_rows(db)
    await fan_out(db, Settings(), b.id)
    channel = FakeChannel("test")
    sender = OutboxSender(
        db, Settings(outbox_batch_size=5), {"test": channel}, clock=lambda: MORNING
    )
    await sender.drain_once()
    assert len(channel.delivered) == 5
    stranger = staff(engine, "o-bt")
    await stranger.press(f"bcx:x:{b.id}")
    assert "You cannot cancel this announcement." in stranger.text
    await author.press(f"bcx:x:{b.id}")
    assert f"Announcement #{b.id} is cancelled; 7 messages" in author.text
    await sender.drain_once()
    assert len(channel.delivered) == 5
    assert await outbox_count(db, broadcast_id=b.id, status="cancelled") == 7
    assert await outbox_count(db, broadcast_id=b.id, status="sent") == 5
    [b] = await broadcast_rows(db)
    assert b.status == "cancelled"
    assert len(await audits(db, "broadcast.cancelled")) == 1


async def test_personal_rows_go_before_an_announcement(db: Database) -> None:
    world = await make_world(db)
    await add_admins(db, world, "a-1")
    await add_subscribers(db, world.units["ben-thuy"], 1, 30)
    engine = make_engine(db, Clock(MORNING))
    author = staff_like(engine, "a-1")
    await compose(author)
    await author.press("bc:a:citizens")
    await author.press("bc:next")
    await author.press("bc:now")
    await author.press("bc:ok")
    [b] = await broadcast_rows(db)
    await fan_out(db, Settings(), b.id)
    from handlers.notify import enqueue
    from handlers.types import Message

    async with UnitOfWork(db) as uow:  # a personal message queued after the 30 rows
        someone = await identity_for(uow.session, "test", "c-7")
        await enqueue(
            uow.session,
            someone,
            lambda: [Message("Trả lời tin báo")],
            dedup_key="p:1",
            not_before=MORNING,
        )
        await uow.commit()
    channel = FakeChannel("test")
    sender = OutboxSender(
        db, Settings(outbox_batch_size=4), {"test": channel}, clock=lambda: MORNING
    )
    await sender.drain_once()
    # The first claim of 4 (of 31 due rows, the personal one queued last) holds it.
    assert ("c-7", "Trả lời tin báo") in channel.delivered
    assert len(channel.delivered) == 4


async def test_quiet_hours_hold_an_announcement_unless_it_is_urgent(db: Database) -> None:
    world = await make_world(db)
    await add_admins(db, world, "a-1")
    await add_subscribers(db, world.units["ben-thuy"], 1, 2)
    night = dt.datetime(2025, 5, 5, 15, 0, tzinfo=dt.UTC)  # 22:00 in Hanoi
    engine = make_engine(db, Clock(night))
    author = staff_like(engine, "a-1")
    for urgent in (False, True):
        await compose(author, f"Thông báo {'khẩn' if urgent else 'thường'}")
        await author.press("bc:a:citizens")
        await author.press("bc:next")
        if urgent:
            await author.press("bc:urgent")
        await author.press("bc:now")
        assert ("quiet hours: it will go out at 07:00 06/05/2025" in author.text) is not urgent
        await author.press("bc:ok")
    for b in await broadcast_rows(db):
        await fan_out(db, Settings(), b.id)
    channel = FakeChannel("test")
    sender = OutboxSender(db, Settings(), {"test": channel}, clock=lambda: night)
    await sender.drain_once()
    assert sorted(channel.delivered) == [
        ("c-1", "🚨 <b>Thông báo KHẨN của Tỉnh Nghệ An</b>\n\nThông báo khẩn"),
        ("c-2", "🚨 <b>Thông báo KHẨN của Tỉnh Nghệ An</b>\n\nThông báo khẩn"),
    ]
    morning = dt.datetime(2025, 5, 6, 0, 1, tzinfo=dt.UTC)  # 07:01 in Hanoi
    sender.clock = lambda: morning
    await sender.drain_once()
    assert len(channel.delivered) == 4
