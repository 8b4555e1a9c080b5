"""Sending a tip through the engine on real PostgreSQL: every path and limit of the flow."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update

from bot.config import Settings
from db import rate_limits
from db import tips as repo
from db.models import Attachment, Outbox, RateCount, Tip, TipEvent, TipReporter, Unit
from db.sealed import code_digest, unseal
from db.session import Database
from tests.integration.tip_helpers import (
    DOC,
    PHOTO,
    VIDEO,
    VOICE,
    identity_id,
    make_engine,
    make_world,
    outbox_choices,
    outbox_of,
    send_tip,
)
from tests.support import TEST_KEY, Clock, Person

SECRET = Settings(secret_key=TEST_KEY)  # type: ignore[arg-type]


async def only_tip(db: Database) -> Tip:
    async with db.sessions() as s:
        tips = (await s.execute(select(Tip))).scalars().all()
    assert len(tips) == 1
    return tips[0]


async def test_flow_opens_with_emergency_numbers_and_categories_in_the_persons_language(
    db: Database,
) -> None:
    await make_world(db)
    engine = make_engine(db)
    en = Person(engine, "c-en", language_code="en")
    await en.press("m:tip")
    assert all(n in en.text for n in ("113", "114", "115"))
    assert "tip:cat:drugs" in en.choices
    assert any(c.label == "Drugs" for m in en.last for c in m.choices)
    vi = Person(engine, "c-vi", language_code="vi")
    await vi.say("/tip")
    assert "113" in vi.text
    assert any(c.label == "Ma túy" for m in vi.last for c in m.choices)


async def test_anonymous_tip_by_typed_name_commits_tip_events_routing_and_notification(
    db: Database,
) -> None:
    world = await make_world(db)
    citizen = Person(make_engine(db), "rep-1", name="Nguyễn Bí Mật", language_code="en")
    await citizen.press("m:tip")
    await citizen.say("Drugs")  # the label typed instead of pressed
    await citizen.say("A man sells pills at the bus stop.")
    assert "tip:done" in citizen.choices
    await citizen.press("tip:done")
    await citizen.say("nghi huong")  # no accents, lower case
    assert "Phường Nghi Hương" in citizen.text
    await citizen.say("Near the bus stop on Lê Lợi street")
    await citizen.press("tip:anon")
    assert "anonymous" in citizen.text
    await citizen.press("tip:send")
    code = citizen.text.split("tracking code: ")[1].split()[0]
    assert "received" in citizen.text

    tip = await only_tip(db)
    assert tip.unit_id == world.units["nghi-huong"]
    assert tip.category == "drugs" and tip.anonymous and tip.status == "new"
    assert tip.place_text == "Near the bus stop on Lê Lợi street"
    digits = code.replace("-", "")
    assert len(digits) == 16 and tip.code_hash == code_digest(SECRET, digits)
    assert digits not in tip.code_hash
    async with db.sessions() as s:
        kinds = (await s.execute(select(TipEvent.kind).order_by(TipEvent.id))).scalars().all()
        routed = await s.scalar(select(TipEvent).where(TipEvent.kind == "routed"))
        sealed = await s.scalar(select(TipReporter.sealed))
    assert list(kinds) == ["created", "routed"]
    assert routed is not None and routed.data == {"unit_id": tip.unit_id, "by": "named"}
    assert sealed is not None
    link = unseal(SECRET, tip.id, sealed)
    assert link is not None and link.identity_id == await identity_id(db, "rep-1")
    assert link.phone is None and link.name is None
    assert b"rep-1" not in sealed
    officer = await outbox_of(db, "o-nh")
    assert len(officer) == 1 and officer[0].urgent
    assert set(outbox_choices(officer)) == {f"tr:ack:{tip.id}", f"tr:open:{tip.id}"}
    # Only the unit's officers, not the force member nor other units' officers.
    assert await outbox_of(db, "f-nh") == [] and await outbox_of(db, "o-bt") == []


async def test_code_is_random_and_the_same_tip_is_found_with_any_spacing(db: Database) -> None:
    await make_world(db)
    engine = make_engine(db)
    codes = {await send_tip(Person(engine, f"rep-{i}", language_code="en")) for i in range(3)}
    assert len(codes) == 3
    code = next(iter(codes))
    async with db.sessions() as s:
        a = await repo.by_code(s, engine.settings, code)
        b = await repo.by_code(s, engine.settings, " ".join(code.split("-")))
        c = await repo.by_code(s, engine.settings, code.replace("-", ""))
    assert a is not None and a.id == b.id == c.id  # type: ignore[union-attr]


async def test_several_media_kinds_are_kept_in_the_draft_and_stored_with_the_tip(
    db: Database,
) -> None:
    await make_world(db)
    citizen = Person(make_engine(db), "rep-2", language_code="en")
    await citizen.press("m:tip")
    await citizen.press("tip:cat:fire")
    await citizen.say("Gas cylinders stored next to a kitchen fire.")
    await citizen.send_media(PHOTO)
    await citizen.send_media(VIDEO, VOICE)
    await citizen.send_media(DOC, caption="The shop is on the corner.")
    assert "3 files" not in citizen.text and "4 files attached" in citizen.text
    async with db.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Attachment)) == 0
    await citizen.press("tip:done")
    await citizen.say("ben thuy")
    await citizen.press("tip:skip")
    await citizen.press("tip:anon")
    assert "Files: 4" in citizen.text
    await citizen.press("tip:send")
    tip = await only_tip(db)
    assert tip.description.endswith("The shop is on the corner.")
    async with db.sessions() as s:
        rows = (await s.execute(select(Attachment).order_by(Attachment.id))).scalars().all()
    assert [(a.owner_kind, a.owner_id, a.kind) for a in rows] == [
        ("tip", tip.id, "photo"),
        ("tip", tip.id, "video"),
        ("tip", tip.id, "voice"),
        ("tip", tip.id, "document"),
    ]
    assert rows[1].file_id == "video-file-1" and rows[1].mime == "video/mp4"


async def test_media_over_the_limit_is_refused_with_a_message_and_the_rest_kept(
    db: Database,
) -> None:
    await make_world(db)
    citizen = Person(make_engine(db, tip_max_media=3), "rep-3", language_code="en")
    await citizen.press("m:tip")
    await citizen.press("tip:cat:other")
    await citizen.say("Something odd.")
    await citizen.send_media(PHOTO, VIDEO)
    await citizen.send_media(VOICE, DOC)
    assert "at most 3 files; 1 of the files you sent were not added" in citizen.text
    await citizen.send_media(PHOTO)
    assert "at most 3 files" in citizen.text
    await citizen.press("tip:done")
    await citizen.say("nghi huong")
    await citizen.press("tip:skip")
    await citizen.press("tip:anon")
    await citizen.press("tip:send")
    async with db.sessions() as s:
        kinds = (await s.execute(select(Attachment.kind).order_by(Attachment.id))).scalars().all()
    assert list(kinds) == ["photo", "video", "voice"]


async def test_text_over_the_limit_asks_again_and_a_photo_with_it_is_kept(db: Database) -> None:
    await make_world(db)
    citizen = Person(make_engine(db, tip_max_text=40), "rep-4", language_code="en")
    await citizen.press("m:tip")
    await citizen.press("tip:cat:crime")
    await citizen.say("x" * 41)
    assert "41 characters; the limit is 40" in citizen.text
    await citizen.send_media(PHOTO, caption="y" * 41)
    assert "the limit is 40" in citizen.text
    await citizen.send_media(VIDEO)
    assert "describe in words" in citizen.text
    await citizen.say("Short and clear.")
    assert "2 files attached" in citizen.text


async def test_location_routes_to_the_nearest_commune_with_coordinates(db: Database) -> None:
    world = await make_world(db)
    citizen = Person(make_engine(db), "rep-5", language_code="en")
    await citizen.press("m:tip")
    await citizen.press("tip:cat:traffic")
    await citizen.say("Racing motorbikes every night.")
    await citizen.press("tip:done")
    assert any(m.request == "location" for m in citizen.last)
    await citizen.share_location(18.645, 105.701)
    assert "Phường Bến Thủy" in citizen.text
    assert citizen.last[0].remove_keyboard
    await citizen.press("tip:skip")
    await citizen.press("tip:anon")
    assert "location is attached" in citizen.text
    await citizen.press("tip:send")
    tip = await only_tip(db)
    assert tip.unit_id == world.units["ben-thuy"]
    assert (tip.lat, tip.lon) == (18.645, 105.701)
    assert len(await outbox_of(db, "o-bt")) == 1


async def test_location_falls_back_to_the_district_then_the_province(db: Database) -> None:
    world = await make_world(db)
    async with db.sessions() as s:
        await s.execute(update(Unit).where(Unit.kind.in_(["ward", "commune"])).values(lat=None))
        await s.commit()
        found = await repo.nearest_unit(s, 18.79, 105.61)
        assert found is not None and found[0].id == world.units["nghi-loc"]
        assert found[1] == "location_district"
        await s.execute(update(Unit).values(lat=None, lon=None))
        await s.commit()
        found = await repo.nearest_unit(s, 18.79, 105.61)
        assert found is not None and found[0].id == world.units["nghe-an"]
        assert found[1] == "location_province"


async def test_pick_district_then_commune_with_pages(db: Database) -> None:
    world = await make_world(db, communes_in_hung_nguyen=13)
    citizen = Person(make_engine(db), "rep-6", language_code="en")
    await citizen.press("m:tip")
    await citizen.press("tip:cat:other")
    await citizen.say("Noise and fights.")
    await citizen.press("tip:done")
    await citizen.press("tip:pick")
    assert f"tip:d:{world.units['hung-nguyen']}" in citizen.choices
    await citizen.press(f"tip:d:{world.units['hung-nguyen']}")
    first = [c for c in citizen.choices if c.startswith("tip:c:")]
    assert len(first) == 10 + 1  # a page of communes + "not sure: the district"
    assert "tip:cp:1" in citizen.choices
    await citizen.press("tip:cp:1")
    assert f"tip:c:{world.units['hung-13']}" in citizen.choices
    assert "tip:cp:0" in citizen.choices
    await citizen.press(f"tip:c:{world.units['hung-13']}")
    assert "Xã Hưng Thôn 13" in citizen.text
    await citizen.press("tip:skip")
    await citizen.press("tip:anon")
    await citizen.press("tip:send")
    tip = await only_tip(db)
    assert tip.unit_id == world.units["hung-13"]


async def test_typed_name_with_several_matches_offers_buttons(db: Database) -> None:
    world = await make_world(db)
    citizen = Person(make_engine(db), "rep-7", language_code="en")
    await citizen.press("m:tip")
    await citizen.press("tip:cat:other")
    await citizen.say("Something.")
    await citizen.press("tip:done")
    await citizen.say("hung thon 0")
    assert "Which one" in citizen.text
    assert f"tip:u:{world.units['hung-05']}" in citizen.choices
    await citizen.say("Nowhere Village")
    assert "No commune or ward is called" in citizen.text


async def test_poster_deep_link_starts_with_the_commune_chosen(db: Database) -> None:
    world = await make_world(db)
    engine = make_engine(db)
    await send_tip(
        Person(engine, "rep-8", language_code="en"), place="", start="/start tip_ben-thuy"
    )
    tip = await only_tip(db)
    assert tip.unit_id == world.units["ben-thuy"]
    async with db.sessions() as s:
        routed = await s.scalar(select(TipEvent).where(TipEvent.kind == "routed"))
    assert routed is not None and routed.data["by"] == "poster"


async def test_poster_of_a_merged_commune_follows_replaced_by(db: Database) -> None:
    world = await make_world(db)
    async with db.sessions() as s:
        await s.execute(
            update(Unit)
            .where(Unit.code == "hung-01")
            .values(valid_to=dt.date(2025, 7, 1), replaced_by_id=world.units["hung-02"])
        )
        await s.commit()
    citizen = Person(make_engine(db), "rep-9", language_code="en")
    await citizen.say("/start tip_hung-01")
    await citizen.press("tip:cat:other")
    await citizen.say("Text.")
    await citizen.press("tip:done")
    assert "Xã Hưng Thôn 02" in citizen.text


async def test_identified_reporter_phone_is_sealed_not_in_the_tip(db: Database) -> None:
    await make_world(db)
    citizen = Person(make_engine(db), "rep-10", name="Vũ Thị Mai", language_code="en")
    await send_tip(citizen, phone="+84912345678")
    tip = await only_tip(db)
    assert not tip.anonymous
    async with db.sessions() as s:
        sealed = await s.scalar(select(TipReporter.sealed))
        row = (await s.execute(select(Tip.__table__))).one()
    assert sealed is not None and b"84912345678" not in sealed
    link = unseal(SECRET, tip.id, sealed)
    assert link is not None and link.phone == "+84912345678" and link.name == "Vũ Thị Mai"
    assert "84912345678" not in repr(row) and "Mai" not in repr(row)


async def test_summary_shows_the_phone_and_a_typed_number_is_accepted(db: Database) -> None:
    await make_world(db)
    citizen = Person(make_engine(db), "rep-11", name="Vũ Thị Mai", language_code="en")
    await citizen.press("m:tip")
    await citizen.press("tip:cat:other")
    await citizen.say("Text.")
    await citizen.press("tip:done")
    await citizen.say("nghi huong")
    await citizen.press("tip:skip")
    assert any(m.request == "contact" for m in citizen.last)
    await citizen.say("hello")
    assert "Stay anonymous" in citizen.text
    await citizen.say("0912 345 678")
    assert "0912 345 678" in citizen.text and "only by the officers of Phường Nghi Hương" in (
        citizen.text
    )


async def test_cancel_at_the_summary_saves_nothing(db: Database) -> None:
    await make_world(db)
    citizen = Person(make_engine(db), "rep-12", language_code="en")
    await citizen.press("m:tip")
    await citizen.press("tip:cat:other")
    await citizen.say("Text.")
    await citizen.send_media(PHOTO)
    await citizen.press("tip:done")
    await citizen.say("nghi huong")
    await citizen.press("tip:skip")
    await citizen.press("tip:anon")
    await citizen.press("tip:cancel")
    assert "Nothing was sent" in citizen.text
    async with db.sessions() as s:
        for model in (Tip, TipEvent, Attachment, TipReporter, Outbox, RateCount):
            assert await s.scalar(select(func.count()).select_from(model)) == 0, model


async def test_tips_per_hour_limit_refuses_then_allows_after_an_hour(db: Database) -> None:
    await make_world(db)
    clock = Clock()
    citizen = Person(make_engine(db, clock, tip_max_per_hour=2), "rep-13", language_code="en")
    await send_tip(citizen)
    clock.advance(minutes=10)
    await send_tip(citizen)
    clock.advance(minutes=10)
    await citizen.press("m:tip")
    assert "sent 2 tips in the last hour" in citizen.text
    # Counted in 5-minute buckets: the end of the first tip's (09:00-09:05 local) plus an hour.
    assert "after 10:05" in citizen.text
    assert not any(c.startswith("tip:cat:") for c in citizen.choices)
    clock.advance(minutes=41)  # 10:01
    await citizen.press("m:tip")
    assert "after 10:05" in citizen.text
    clock.advance(minutes=5)
    await send_tip(citizen)
    async with db.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Tip)) == 3


async def test_limit_reached_at_send_keeps_the_draft(db: Database) -> None:
    await make_world(db)
    clock = Clock()
    engine = make_engine(db, clock, tip_max_per_hour=1)
    citizen = Person(engine, "rep-14", language_code="en")
    await citizen.press("m:tip")
    await citizen.press("tip:cat:other")
    await citizen.say("Kept text.")
    await citizen.send_media(PHOTO)
    await citizen.press("tip:done")
    await citizen.say("nghi huong")
    await citizen.press("tip:skip")
    await citizen.press("tip:anon")
    # Meanwhile a tip from the same person was counted (e.g. by another process).
    async with db.sessions() as s:
        rid = await identity_id(db, "rep-14")
        await rate_limits.hit(s, engine.settings, rate_limits.TIP_SUBMIT, rid, clock.now)
        await s.commit()
    await citizen.press("tip:send")
    assert "Your tip is kept" in citizen.text and "tip:send" in citizen.choices
    clock.advance(minutes=30)
    await citizen.press("tip:send")
    assert "Your tip is kept" in citizen.text
    clock.advance(minutes=31)  # an hour and a minute: the 5-minute bucket is not over
    await citizen.press("tip:send")
    assert "Your tip is kept" in citizen.text
    clock.advance(minutes=4)
    await citizen.press("tip:send")
    assert "tracking code" in citizen.text
    tip = await only_tip(db)
    assert tip.description == "Kept text."
    async with db.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Attachment)) == 1


async def test_a_commune_without_officers_escalates_at_once(db: Database) -> None:
    world = await make_world(db)
    citizen = Person(make_engine(db), "rep-15", language_code="en")
    await send_tip(citizen, place="nghi thach")
    tip = await only_tip(db)
    assert tip.unit_id == world.units["nghi-thach"]
    # Nghi Lộc has no supervisor: the province's supervisor gets it.
    assert tip.escalation_level == 1 and tip.escalated_at is not None
    rows = await outbox_of(db, "s-tinh")
    assert len(rows) == 1 and f"tr:open:{tip.id}" in outbox_choices(rows)
    assert await outbox_of(db, "s-vinh") == []
