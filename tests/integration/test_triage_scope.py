"""Who may see and do what on a tip (handlers.triage): contact, inbox, closed tips.

The world of ``tip_helpers`` plus two people the scope rules single out: a supervisor
of exactly the tip's unit and an officer of the city above it.
"""

from __future__ import annotations

from sqlalchemy import func, select

from db.members import ensure_member, grant_role, identity_for
from db.models import Conversation, Identity, Role, Tip, TipEvent
from db.session import Database
from tests.integration.tip_helpers import World, make_engine, make_world, send_tip, staff
from tests.support import Person

NAME, PHONE = "Nguyễn Bí Mật", "+84987654321"
REFUSED = "The tip inbox is for officers and supervisors."


async def add_staff(db: Database, world: World, user_id: str, unit: str, role: Role) -> None:
    async with db.sessions() as s:
        identity = await identity_for(s, "test", user_id, display_name=user_id, language="en")
        member = await ensure_member(s, identity, user_id)
        await grant_role(s, member.id, world.units[unit], role, granted_by=None)
        await s.commit()


async def only_tip(db: Database) -> Tip:
    async with db.sessions() as s:
        return (await s.execute(select(Tip))).scalar_one()


async def test_contact_only_for_officers_of_exactly_the_tips_unit(db: Database) -> None:
    world = await make_world(db)
    await add_staff(db, world, "s-nh", "nghi-huong", Role.SUPERVISOR)
    await add_staff(db, world, "o-vinh", "vinh", Role.OFFICER)
    await add_staff(db, world, "o-both", "nghi-huong", Role.OFFICER)
    await add_staff(db, world, "o-both", "hung-nguyen", Role.SUPERVISOR)
    engine = make_engine(db)
    await send_tip(Person(engine, "rep-1", name=NAME, language_code="en"), phone=PHONE)
    tip = await only_tip(db)

    officer = staff(engine, "o-nh")
    await officer.press(f"tr:open:{tip.id}")
    assert f"Reporter: {NAME}, phone {PHONE}" in officer.text
    both = Person(engine, "o-both", language_code="en")  # another role elsewhere changes nothing
    await both.press(f"tr:open:{tip.id}")
    assert f"Reporter: {NAME}, phone {PHONE}" in both.text

    for user_id in ("s-nh", "o-vinh"):  # the tip's own unit but not an officer; an officer above
        person = Person(engine, user_id, language_code="en")
        await person.press(f"tr:open:{tip.id}")
        assert f"Tip #{tip.id}" in person.text  # they may work the tip ...
        assert "Reporter: identified (contact visible to the officers of" in person.text
        assert PHONE not in person.text and NAME not in person.text  # ... but not see who


async def test_the_inbox_is_refused_to_force_members_and_citizens(db: Database) -> None:
    await make_world(db)
    engine = make_engine(db)
    await send_tip(Person(engine, "rep-2", language_code="en"))
    for person in (staff(engine, "f-nh"), Person(engine, "citizen", language_code="en")):
        await person.say("/tips")
        assert person.text == REFUSED
        assert not any(c.startswith("tr:open:") for c in person.choices)
        await person.press("tr:in:0:-:-")
        assert person.text == REFUSED
    officer = staff(engine, "o-nh")
    await officer.say("/tips")
    assert "1 tips · page 1/1" in officer.text


async def test_a_closed_tip_takes_no_more_actions(db: Database) -> None:
    world = await make_world(db)
    engine = make_engine(db)
    await send_tip(Person(engine, "rep-3", language_code="en"), phone=PHONE)
    tip = await only_tip(db)
    officer = staff(engine, "o-nh")
    await officer.press(f"tr:out:{tip.id}:handled")
    await officer.press("trf:skip")
    assert "Closed." in officer.text
    async with db.sessions() as s:
        events_before = await s.scalar(select(func.count()).select_from(TipEvent))

    member = world.members["f-nh"]
    t = tip.id
    for action in (f"ask:{t}", f"dup:{t}", f"close:{t}", f"out:{t}:spam", f"asm:{t}:{member}"):
        await officer.press(f"tr:{action}")
        assert "This tip is closed." in officer.text, action
        assert "Status: closed" in officer.text
        assert not any(c.startswith(f"tr:close:{tip.id}") for c in officer.choices)
    async with db.sessions() as s:
        after = await s.get(Tip, tip.id)
        events_after = await s.scalar(select(func.count()).select_from(TipEvent))
        officer_id = await s.scalar(select(Identity.id).where(Identity.external_id == "o-nh"))
        conversation = await s.get(Conversation, officer_id)
    assert after is not None and (after.status, after.outcome) == ("closed", "handled")
    assert after.assigned_member_id is None
    assert events_after == events_before
    assert conversation is not None and conversation.flow is None  # no question or note asked


async def test_a_superscript_digit_is_not_a_tip_number(db: Database) -> None:
    await make_world(db)
    engine = make_engine(db)
    await send_tip(Person(engine, "rep-4", language_code="en"))
    tip = await only_tip(db)
    officer = staff(engine, "o-nh")
    await officer.press(f"tr:dup:{tip.id}")
    await officer.say("²")  # str.isdigit() is true for it; int() is not
    assert "Please type the number of the original tip" in officer.text
    assert "went wrong" not in officer.text
