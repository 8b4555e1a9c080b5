"""The citizen after sending: /status, adding information, answering, lock-out."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from db.models import Attachment, RateCount, Tip, TipEvent
from db.sealed import open_ref
from db.session import Database
from tests.integration.tip_helpers import (
    PHOTO,
    VOICE,
    make_engine,
    make_world,
    outbox_choices,
    outbox_of,
    outbox_text,
    send_tip,
    staff,
)
from tests.support import Clock, Person


async def the_tip(db: Database) -> Tip:
    async with db.sessions() as s:
        tip = await s.scalar(select(Tip))
    assert tip is not None
    return tip


async def test_status_shows_neutral_status_and_public_replies_only(db: Database) -> None:
    await make_world(db)
    engine = make_engine(db)
    citizen = Person(engine, "rep-1", language_code="en")
    code = await send_tip(citizen)
    await citizen.say(f"/status {code}")
    assert "waiting to be looked at" in citizen.text
    tip = await the_tip(db)
    officer = staff(engine, "o-nh")
    await officer.press(f"tr:ack:{tip.id}")
    await officer.press(f"tr:ask:{tip.id}")
    await officer.say("Which evening did you see it?")
    await officer.press(f"tr:close:{tip.id}")  # still open: the question did not close it
    await officer.press(f"tr:out:{tip.id}:handled")
    await officer.say("We checked the place and acted.")
    await citizen.say(f"/status {code.replace('-', ' ')}")
    assert "Status: closed" in citizen.text
    assert "Which evening did you see it?" in citizen.text
    assert "We checked the place and acted." in citizen.text
    assert "Trần Thị Hoa" not in citizen.text  # officers' names stay internal
    assert not any(c.startswith("tpa:") for c in citizen.choices)  # closed: nothing to add


async def test_menu_entry_asks_for_the_code(db: Database) -> None:
    await make_world(db)
    citizen = Person(make_engine(db), "rep-2", language_code="en")
    code = await send_tip(citizen)
    await citizen.press("m:tip_status")
    assert "tracking code" in citizen.text
    await citizen.say(code)
    assert "Status:" in citizen.text


async def test_adding_information_becomes_an_event_without_actor_and_notifies_officers(
    db: Database,
) -> None:
    await make_world(db)
    engine = make_engine(db)
    citizen = Person(engine, "rep-3", language_code="en")
    code = await send_tip(citizen)
    before = len(await outbox_of(db, "o-nh"))
    await citizen.say(f"/status {code}")
    add = next(c for c in citizen.choices if c.startswith("tpa:i:"))
    assert len(add.encode()) <= 64
    await citizen.press(add)
    await citizen.send_media(PHOTO)
    await citizen.send_media(VOICE)
    assert "2 files received" in citizen.text
    await citizen.say("They come at 9 pm, two of them.")
    assert "added to your tip" in citizen.text
    tip = await the_tip(db)
    async with db.sessions() as s:
        ev = await s.scalar(select(TipEvent).where(TipEvent.kind == "reporter_info"))
        media = await s.scalar(select(func.count()).select_from(Attachment))
    assert ev is not None and ev.text == "They come at 9 pm, two of them."
    assert ev.actor_member_id is None and not ev.public
    assert media == 2
    rows = await outbox_of(db, "o-nh")
    assert len(rows) == before + 1
    assert f"reporter added information to tip #{tip.id}" in outbox_text(rows[-1:])


async def test_adding_to_a_closed_tip_is_refused(db: Database) -> None:
    await make_world(db)
    engine = make_engine(db)
    citizen = Person(engine, "rep-4", language_code="en")
    code = await send_tip(citizen)
    await citizen.say(f"/status {code}")
    add = next(c for c in citizen.choices if c.startswith("tpa:i:"))
    tip = await the_tip(db)
    officer = staff(engine, "o-nh")
    await officer.press(f"tr:out:{tip.id}:spam")
    await officer.press("trf:skip")
    await citizen.press(add)
    assert "This tip is closed" in citizen.text


async def test_a_forged_button_is_refused(db: Database) -> None:
    await make_world(db)
    citizen = Person(make_engine(db), "rep-5", language_code="en")
    await send_tip(citizen)
    await citizen.press("tpa:i:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
    assert "no longer valid" in citizen.text
    await citizen.press("tpa:a:1")
    assert "no longer valid" in citizen.text


async def test_reporter_answers_a_relayed_question_and_officer_sees_the_answer(
    db: Database,
) -> None:
    await make_world(db)
    engine = make_engine(db)
    citizen = Person(engine, "rep-6", name="Đỗ Văn Kín", language_code="en")
    await send_tip(citizen)
    tip = await the_tip(db)
    officer = staff(engine, "o-nh")
    await officer.press(f"tr:ask:{tip.id}")
    assert "you will not learn who the reporter is" in officer.text
    await officer.say("Is the shop open now?")
    assert "passed on" in officer.text
    relayed = await outbox_of(db, "rep-6")
    assert "Is the shop open now?" in outbox_text(relayed)
    reply_button = next(c for c in outbox_choices(relayed) if c.startswith("tpa:a:"))
    assert len(reply_button.encode()) <= 64
    assert open_ref(engine.settings, reply_button.split(":")[-1]) == tip.id
    await citizen.press(reply_button)
    assert "Type your answer" in citizen.text
    await citizen.say("Yes, until midnight.")
    async with db.sessions() as s:
        ev = await s.scalar(select(TipEvent).where(TipEvent.kind == "reporter_answer"))
    assert ev is not None and ev.actor_member_id is None and ev.text == "Yes, until midnight."
    assert "answered your question" in outbox_text((await outbox_of(db, "o-nh"))[-1:])
    await officer.press(f"tr:open:{tip.id}")
    assert "the reporter answered: Yes, until midnight." in officer.text
    assert "Đỗ Văn Kín" not in officer.text and "rep-6" not in officer.text


async def test_ten_wrong_codes_lock_lookups_for_an_hour(db: Database) -> None:
    await make_world(db)
    clock = Clock()
    citizen = Person(make_engine(db, clock), "rep-7", language_code="en")
    code = await send_tip(citizen)
    for i in range(9):
        await citizen.say(f"/status 0000-0000-0000-{i:04d}")
        assert f"({9 - i} tries left)" in citizen.text
        clock.advance(minutes=1)
    await citizen.say("/status 0000-0000-0000-0099")
    assert "Too many wrong codes" in citizen.text
    locked_at = clock.now
    clock.advance(minutes=30)
    await citizen.say(f"/status {code}")  # even the right code waits
    assert "Too many wrong codes" in citizen.text and "Status:" not in citizen.text
    await citizen.press("m:tip_status")
    assert "Too many wrong codes" in citizen.text
    async with db.sessions() as s:
        fails = await s.scalar(
            select(func.sum(RateCount.count)).where(RateCount.kind == "tip_lookup_fail")
        )
    assert fails == 10  # failures survived their transactions; locked tries are not counted
    clock.now = locked_at + dt.timedelta(minutes=59)
    await citizen.say(f"/status {code}")
    assert "Too many wrong codes" in citizen.text
    clock.advance(minutes=2)
    await citizen.say(f"/status {code}")
    assert "Status:" in citizen.text


async def test_failures_spread_over_more_than_an_hour_do_not_lock(db: Database) -> None:
    await make_world(db)
    clock = Clock()
    citizen = Person(make_engine(db, clock), "rep-8", language_code="en")
    code = await send_tip(citizen)
    for i in range(12):
        await citizen.say(f"/status 1111-0000-0000-{i:04d}")
        assert "Too many" not in citizen.text
        clock.advance(minutes=7)
    await citizen.say(f"/status {code}")
    assert "Status:" in citizen.text


async def test_a_malformed_code_is_explained_and_not_counted(db: Database) -> None:
    await make_world(db)
    citizen = Person(make_engine(db), "rep-9", language_code="en")
    await citizen.say("/status 12345")
    assert "16 digits" in citizen.text
    await citizen.say("abcd")
    assert "16 digits" in citizen.text
    async with db.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(RateCount)) == 0


async def test_status_code_step_accepts_the_code_after_a_wrong_one(db: Database) -> None:
    await make_world(db)
    citizen = Person(make_engine(db), "rep-10", language_code="en")
    code = await send_tip(citizen)
    await citizen.say("/status")
    await citizen.say("9999-9999-9999-9999")
    assert "No tip has this code" in citizen.text
    await citizen.say(code)
    assert "Status:" in citizen.text
