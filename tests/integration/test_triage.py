"""Officers and supervisors working tips: inbox, actions, notifications, escalation,
anonymity everywhere an identity could leak, and the purge of reporter links."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from sqlalchemy import func, select, text, update

from db import tips as repo
from db.models import Attachment, Audit, Outbox, Tip, TipEvent, TipReporter
from db.sealed import ReporterLink
from db.session import Database
from handlers.types import MediaRef
from scheduler.tips import escalate_unacknowledged, purge_reporter_links
from tests.integration.tip_helpers import (
    World,
    identity_id,
    make_engine,
    make_world,
    outbox_choices,
    outbox_of,
    outbox_text,
    send_tip,
    staff,
)
from tests.support import Clock, Person

REPORTER = ("rep-778899", "Nguyễn Bí Mật", "+84987654321")


async def tip_ids(db: Database) -> list[int]:
    async with db.sessions() as s:
        return list((await s.execute(select(Tip.id).order_by(Tip.id))).scalars().all())


async def get_tip(db: Database, tip_id: int) -> Tip:
    async with db.sessions() as s:
        tip = await s.get(Tip, tip_id)
    assert tip is not None
    return tip


async def bulk_tips(db: Database, world: World, clock: Clock, specs: list[tuple[str, str]]) -> None:
    """Tips straight through the repository (a sealed link to a throwaway identity)."""
    settings = make_engine(db).settings
    async with db.sessions() as s:
        for i, (unit_code, category) in enumerate(specs):
            draft = repo.TipDraft(
                category=category,
                description=f"bulk tip {i}",
                unit_id=world.units[unit_code],
                channel="test",
                routed_by="chosen",
            )
            at = clock.now + dt.timedelta(minutes=i)
            await repo.create_tip(s, settings, draft, ReporterLink(0, "test", "0"), now=at)
        await s.commit()


# --- inbox -------------------------------------------------------------------------------


async def test_inbox_newest_first_with_filters_and_pages(db: Database) -> None:
    world = await make_world(db)
    clock = Clock()
    specs = [("nghi-huong", "drugs")] * 6 + [("nghi-huong", "traffic")] * 4 + [("ben-thuy", "fire")]
    await bulk_tips(db, world, clock, specs)
    ids = await tip_ids(db)
    officer = staff(make_engine(db, clock), "o-nh")
    await officer.press("m:tip_inbox")
    assert "10 tips · page 1/2" in officer.text  # not Bến Thủy's tip
    listed = [int(c.split(":")[2]) for c in officer.choices if c.startswith("tr:open:")]
    assert listed == ids[:10][::-1][:8]  # newest first, eight a page
    assert "tr:in:1:-:-" in officer.choices
    await officer.press("tr:in:1:-:-")
    listed = [int(c.split(":")[2]) for c in officer.choices if c.startswith("tr:open:")]
    assert listed == ids[:2][::-1]
    await officer.press("tr:fc:-")
    assert "tr:in:0:traffic:-" in officer.choices
    await officer.press("tr:in:0:traffic:-")
    assert "4 tips" in officer.text and "Traffic-safety violation" in officer.text
    await officer.press(f"tr:ack:{ids[0]}")
    await officer.press("tr:fs:-")
    assert "tr:in:0:-:acknowledged" in officer.choices
    await officer.press("tr:in:0:-:acknowledged")
    listed = [int(c.split(":")[2]) for c in officer.choices if c.startswith("tr:open:")]
    assert listed == [ids[0]]
    supervisor = staff(make_engine(db, clock), "s-vinh")
    await supervisor.say("/tips")
    assert "11 tips" in supervisor.text


async def test_citizens_and_other_units_cannot_see_or_act(db: Database) -> None:
    world = await make_world(db)
    await bulk_tips(db, world, Clock(), [("nghi-huong", "drugs")])
    [tip_id] = await tip_ids(db)
    engine = make_engine(db)
    citizen = Person(engine, "nosy", language_code="en")
    await citizen.press("m:tip_inbox")
    assert "not available" in citizen.text
    for action in ("open", "ack", "asg", "ask", "dup", "close"):
        await citizen.press(f"tr:{action}:{tip_id}")
        assert "not in your area" in citizen.text
    other = staff(engine, "o-bt")
    await other.press(f"tr:ack:{tip_id}")
    assert "not in your area" in other.text
    assert (await get_tip(db, tip_id)).status == "new"


# --- actions --------------------------------------------------------------------------------


async def test_acknowledge_records_event_audit_and_tells_the_reporter(db: Database) -> None:
    await make_world(db)
    engine = make_engine(db)
    citizen = Person(engine, "rep-1", language_code="en")
    await send_tip(citizen)
    [tip_id] = await tip_ids(db)
    officer = staff(engine, "o-nh")
    await officer.press(f"tr:ack:{tip_id}")
    assert "Acknowledged." in officer.text and "Status: acknowledged" in officer.text
    await officer.press(f"tr:ack:{tip_id}")
    assert "already acknowledged" in officer.text
    async with db.sessions() as s:
        events = (
            (await s.execute(select(TipEvent).where(TipEvent.kind == "acknowledged")))
            .scalars()
            .all()
        )
        audits = (await s.execute(select(Audit).where(Audit.action == "tip.acknowledge"))).scalars()
        audit_rows = list(audits)
    officer_member = (await staff_members(db))["o-nh"]
    assert len(events) == 1 and events[0].actor_member_id == officer_member
    assert len(audit_rows) == 1 and audit_rows[0].object_id == str(tip_id)
    told = await outbox_of(db, "rep-1")
    assert len(told) == 1
    assert "received and is being looked at" in outbox_text(told)
    key = told[0].dedup_key  # a keyed digest, not the tip id
    assert key.startswith("tipr:") and len(key) == 37 and int(key[5:], 16) >= 0


async def staff_members(db: Database) -> dict[str, int]:
    async with db.sessions() as s:
        rows = await s.execute(text("SELECT external_id, member_id FROM identity"))
        return {ext: mid for ext, mid in rows.all() if mid is not None}


async def test_assign_to_a_member_of_the_unit(db: Database) -> None:
    await make_world(db)
    engine = make_engine(db)
    citizen = Person(engine, "rep-2", language_code="en")
    await send_tip(citizen)
    [tip_id] = await tip_ids(db)
    members = await staff_members(db)
    officer = staff(engine, "o-nh")
    await officer.press(f"tr:asg:{tip_id}")
    assert f"tr:asm:{tip_id}:{members['f-nh']}" in officer.choices
    assert f"tr:asm:{tip_id}:{members['o-bt']}" not in officer.choices
    await officer.press(f"tr:asm:{tip_id}:{members['o-bt']}")
    assert "not a member" in officer.text
    await officer.press(f"tr:asm:{tip_id}:{members['f-nh']}")
    assert "Assigned to Lê Văn Lực" in officer.text
    tip = await get_tip(db, tip_id)
    assert tip.status == "assigned" and tip.assigned_member_id == members["f-nh"]
    assert tip.acknowledged_at is not None
    assert "assigned to you" in outbox_text(await outbox_of(db, "f-nh"))
    assert "officer has been given the task" in outbox_text(await outbox_of(db, "rep-2"))


async def test_close_with_outcome_and_note(db: Database) -> None:
    await make_world(db)
    clock = Clock()
    engine = make_engine(db, clock, tip_reporter_retention_days=90)
    citizen = Person(engine, "rep-3", language_code="en")
    await send_tip(citizen)
    [tip_id] = await tip_ids(db)
    officer = staff(engine, "o-nh")
    await officer.press(f"tr:close:{tip_id}")
    assert {f"tr:out:{tip_id}:{o}" for o in repo.OUTCOMES} <= set(officer.choices)
    await officer.press(f"tr:out:{tip_id}:referred")
    await officer.press("trf:cancel")
    assert (await get_tip(db, tip_id)).status == "new"
    await officer.press(f"tr:out:{tip_id}:referred")
    await officer.say("Passed to the district traffic police.")
    tip = await get_tip(db, tip_id)
    assert (tip.status, tip.outcome, tip.closed_at) == ("closed", "referred", clock.now)
    async with db.sessions() as s:
        purge_after = await s.scalar(select(TipReporter.purge_after))
    assert purge_after == clock.now + dt.timedelta(days=90)
    told = outbox_text(await outbox_of(db, "rep-3"))
    assert "dealt with and is now closed" in told
    assert "Passed to the district traffic police." in told
    assert "referred" not in told  # neutral words: the outcome stays internal
    await officer.press(f"tr:ack:{tip_id}")
    assert "Status: closed" in officer.text


async def test_mark_duplicate_by_number(db: Database) -> None:
    world = await make_world(db)
    await bulk_tips(db, world, Clock(), [("nghi-huong", "drugs"), ("nghi-huong", "drugs")])
    first, second = await tip_ids(db)
    officer = staff(make_engine(db), "o-nh")
    await officer.press(f"tr:dup:{second}")
    assert f"trf:dup:{first}" in officer.choices
    await officer.say(str(second))
    assert "cannot be a duplicate of itself" in officer.text
    await officer.say("#999")
    assert "not in your area" in officer.text
    await officer.say(f"#{first}")
    assert f"duplicate of #{first}" in officer.text
    tip = await get_tip(db, second)
    assert (tip.status, tip.outcome, tip.duplicate_of_id) == ("closed", "duplicate", first)
    await officer.press(f"tr:dup:{first}")
    await officer.say(str(second))
    assert "is itself a duplicate of this tip" in officer.text


# --- anonymity ------------------------------------------------------------------------------


async def test_anonymous_reporter_never_leaks(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    await make_world(db)
    caplog.set_level(logging.INFO)
    clock = Clock()
    engine = make_engine(db, clock)
    user_id, name, _phone = REPORTER
    citizen = Person(engine, user_id, name=name, language_code="en")
    code = await send_tip(citizen)
    [tip_id] = await tip_ids(db)
    rid = await identity_id(db, user_id)
    secrets = [user_id, name, "Bí Mật"]

    seen: list[str] = []
    officer = staff(engine, "o-nh")
    await officer.press(f"tr:open:{tip_id}")
    seen.append(officer.text)
    assert "Reporter: anonymous" in officer.text
    await officer.press(f"tr:ack:{tip_id}")
    await officer.press(f"tr:ask:{tip_id}")
    await officer.say("When?")
    seen.append(officer.text)
    await citizen.press(
        next(c for c in outbox_choices(await outbox_of(db, user_id)) if "tpa:a" in c)
    )
    await citizen.say("Yesterday, by the way I am the neighbour.")
    await citizen.say(f"/status {code}")
    clock.advance(hours=30)
    await escalate_unacknowledged(db, engine.settings, clock.now)
    for who in ("o-nh", "s-vinh", "s-tinh", "f-nh"):
        person = staff(engine, who)
        await person.press(f"tr:open:{tip_id}")
        seen.append(person.text)
        await person.say("/tips")
        seen.append(person.text)
        seen.append(outbox_text(await outbox_of(db, who)))
    await officer.press(f"tr:out:{tip_id}:handled")
    await officer.press("trf:skip")
    seen.append(officer.text)

    for chunk in seen:
        for secret in secrets:
            assert secret not in chunk
    async with db.sessions() as s:
        events = (await s.execute(select(TipEvent))).scalars().all()
        audits = (await s.execute(select(Audit).where(Audit.object_kind == "tip"))).scalars().all()
        tip_row = (await s.execute(text("SELECT * FROM tip"))).one()
        others = (await s.execute(select(Outbox).where(Outbox.identity_id != rid))).scalars().all()
        member_of_reporter = await s.scalar(text(f"SELECT member_id FROM identity WHERE id={rid}"))
    assert member_of_reporter is None
    for ev in events:
        assert ev.actor_member_id is None or ev.kind not in {"created", "reporter_answer"}
        assert "identity" not in str(ev.data) and str(rid) not in str(ev.data.get("by", ""))
    for row in [repr(tip_row), *(repr(a.data) for a in audits), *(repr(o.payload) for o in others)]:
        for secret in secrets:
            assert secret not in row
    # The reporter's own outbox rows do not name the tip in clear.
    for row in await outbox_of(db, user_id):
        assert f"tip:{tip_id}" not in row.dedup_key and f"#{tip_id}" not in repr(row.payload)
    for record in caplog.records:
        message = record.getMessage()
        for secret in [*secrets, f"identity {rid}", f"identity_id={rid}"]:
            assert secret not in message, message
    assert any("tip" in r.getMessage() for r in caplog.records)  # the tip flow did log


async def test_identified_contact_only_for_officers_of_the_tip_unit(db: Database) -> None:
    await make_world(db)
    engine = make_engine(db)
    user_id, name, phone = REPORTER
    citizen = Person(engine, user_id, name=name, language_code="en")
    await send_tip(citizen, phone=phone)
    [tip_id] = await tip_ids(db)
    officer = staff(engine, "o-nh")
    await officer.press(f"tr:open:{tip_id}")
    assert f"Reporter: {name}, phone {phone}" in officer.text
    for who in ("s-vinh", "s-tinh"):
        supervisor = staff(engine, who)
        await supervisor.press(f"tr:open:{tip_id}")
        assert "Reporter: identified" in supervisor.text
        assert phone not in supervisor.text and name not in supervisor.text
    force = staff(engine, "f-nh")
    await force.press(f"tr:open:{tip_id}")
    assert "not in your area" in force.text  # force members do not triage
    # Notifications never carry the contact, even to the unit's officers.
    assert phone not in outbox_text(await outbox_of(db, "o-nh"))


# --- escalation -------------------------------------------------------------------------------


async def test_unacknowledged_tip_escalates_level_by_level_once(db: Database) -> None:
    await make_world(db)
    clock = Clock()
    engine = make_engine(db, clock, tip_escalate_hours=24)
    await send_tip(Person(engine, "rep-5", language_code="en"))
    [tip_id] = await tip_ids(db)
    clock.advance(hours=23, minutes=59)
    assert await escalate_unacknowledged(db, engine.settings, clock.now) == 0
    clock.advance(minutes=1)
    assert await escalate_unacknowledged(db, engine.settings, clock.now) == 1
    assert await escalate_unacknowledged(db, engine.settings, clock.now) == 0
    tip = await get_tip(db, tip_id)
    assert (tip.escalation_level, tip.escalated_at) == (1, clock.now)
    vinh = await outbox_of(db, "s-vinh")
    assert len(vinh) == 1 and "has not been acknowledged" in outbox_text(vinh)
    assert f"tr:ack:{tip_id}" in outbox_choices(vinh)
    assert await outbox_of(db, "s-tinh") == []
    clock.advance(hours=24)
    assert await escalate_unacknowledged(db, engine.settings, clock.now) == 1
    assert len(await outbox_of(db, "s-tinh")) == 1
    clock.advance(hours=24)
    assert await escalate_unacknowledged(db, engine.settings, clock.now) == 0  # nobody above
    async with db.sessions() as s:
        levels = (
            (await s.execute(select(TipEvent.data).where(TipEvent.kind == "escalated")))
            .scalars()
            .all()
        )
    assert [d["level"] for d in levels] == [1, 2]
    supervisor = staff(engine, "s-vinh")
    await supervisor.press(f"tr:ack:{tip_id}")
    assert "Acknowledged." in supervisor.text


async def test_acknowledged_tips_do_not_escalate(db: Database) -> None:
    await make_world(db)
    clock = Clock()
    engine = make_engine(db, clock)
    await send_tip(Person(engine, "rep-6", language_code="en"))
    [tip_id] = await tip_ids(db)
    await staff(engine, "o-nh").press(f"tr:ack:{tip_id}")
    clock.advance(hours=48)
    assert await escalate_unacknowledged(db, engine.settings, clock.now) == 0


async def test_escalated_tip_answer_reaches_the_supervisors_too(db: Database) -> None:
    await make_world(db)
    clock = Clock()
    engine = make_engine(db, clock)
    citizen = Person(engine, "rep-7", language_code="en")
    code = await send_tip(citizen)
    clock.advance(hours=25)
    await escalate_unacknowledged(db, engine.settings, clock.now)
    await citizen.say(f"/status {code}")
    await citizen.press(next(c for c in citizen.choices if c.startswith("tpa:i:")))
    await citizen.say("More details.")
    assert "added information" in outbox_text((await outbox_of(db, "s-vinh"))[-1:])


# --- purge -------------------------------------------------------------------------------------


async def test_reporter_link_and_traces_are_purged_after_retention(db: Database) -> None:
    await make_world(db)
    clock = Clock()
    engine = make_engine(db, clock, tip_reporter_retention_days=90)
    citizen = Person(engine, "rep-8", name="Vũ Thị Mai", language_code="en")
    await send_tip(citizen, phone="0912345678")
    [tip_id] = await tip_ids(db)
    officer = staff(engine, "o-nh")
    await officer.press(f"tr:out:{tip_id}:handled")
    await officer.press("trf:skip")
    async with db.sessions() as s:
        await s.execute(update(Outbox).values(status="sent"))
        await s.commit()
    clock.advance(hours=3)
    result = await purge_reporter_links(db, engine.settings, clock.now)
    assert result.links == 0 and result.reporter_messages == 1 and result.rate_counts == 1
    clock.advance(days=89)
    assert (await purge_reporter_links(db, engine.settings, clock.now)).links == 0
    clock.advance(days=1)
    assert (await purge_reporter_links(db, engine.settings, clock.now)).links == 1
    async with db.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(TipReporter)) == 0
        assert await s.scalar(select(func.count()).select_from(Tip)) == 1
    await officer.press(f"tr:open:{tip_id}")
    assert "contact deleted after closing" in officer.text and "0912345678" not in officer.text
    assert f"tr:ask:{tip_id}" not in officer.choices


async def test_unreachable_reporter_question_is_still_public(db: Database) -> None:
    await make_world(db)
    engine = make_engine(db)
    citizen = Person(engine, "rep-9", language_code="en")
    code = await send_tip(citizen)
    [tip_id] = await tip_ids(db)
    async with db.sessions() as s:
        await s.execute(text("UPDATE identity SET blocked_at = now() WHERE external_id = 'rep-9'"))
        await s.commit()
    officer = staff(engine, "o-nh")
    await officer.press(f"tr:ask:{tip_id}")
    await officer.say("Can you send a photo?")
    assert "cannot be reached" in officer.text
    assert await outbox_of(db, "rep-9") == []
    await citizen.say(f"/status {code}")
    assert "Can you send a photo?" in citizen.text


# --- files ------------------------------------------------------------------------------------


async def test_officers_see_the_files_of_a_tip_sent_anew_and_audited(db: Database) -> None:
    await make_world(db)
    engine = make_engine(db)
    citizen = Person(engine, "rep-files", language_code="en")
    photo = MediaRef("photo", "AgAD-photo-1", "u-photo-1", mime="image/jpeg", size=2048)
    voice = MediaRef("voice", "AwAD-voice-1", "u-voice-1", mime="audio/ogg", size=512)
    await send_tip(citizen, media=[photo, voice])
    [tip_id] = await tip_ids(db)
    async with db.sessions() as s:  # a file that came through another channel
        s.add(
            Attachment(
                owner_kind="tip", owner_id=tip_id, channel="zalo", file_id="z-1", kind="photo"
            )
        )
        await s.commit()

    officer = staff(engine, "o-nh")
    await officer.press(f"tr:open:{tip_id}")
    assert "Files: 3" in officer.text
    assert f"tr:files:{tip_id}" in officer.choices
    await officer.press(f"tr:files:{tip_id}")
    [shown] = officer.last
    assert [(f.kind, f.file_id) for f in shown.files] == [
        ("photo", "AgAD-photo-1"),
        ("voice", "AwAD-voice-1"),
    ]
    assert f"Files of tip #{tip_id}: 2" in shown.text
    assert "1 more came on another channel" in shown.text
    assert [c.id for c in shown.choices] == [f"tr:open:{tip_id}"]
    async with db.sessions() as s:
        audits = (await s.scalars(select(Audit).where(Audit.action == "tip.files"))).all()
    assert [(a.object_id, a.data) for a in audits] == [(str(tip_id), {"shown": 2})]

    # Outside the tip's area, or as a citizen: nothing.
    for outsider in (staff(engine, "o-bt"), Person(engine, "nosy", language_code="en")):
        await outsider.press(f"tr:files:{tip_id}")
        assert "not in your area" in outsider.text
        assert not any(m.files for m in outsider.last)


async def test_a_tip_without_files_offers_no_files_button(db: Database) -> None:
    await make_world(db)
    engine = make_engine(db)
    await send_tip(Person(engine, "rep-plain", language_code="en"))
    [tip_id] = await tip_ids(db)
    officer = staff(engine, "o-nh")
    await officer.press(f"tr:open:{tip_id}")
    assert "Files:" not in officer.text
    assert not any(c.startswith("tr:files:") for c in officer.choices)
