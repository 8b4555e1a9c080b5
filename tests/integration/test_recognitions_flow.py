"""Keeping the register in the bot: a district supervisor adds a recognition and records a
status; officers and other districts are refused; on real PostgreSQL, real engine."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from db.models import Audit, Recognition, RecognitionEvent, Role
from db.session import Database
from tests.integration.tip_helpers import make_engine, make_world, staff
from tests.support import Clock

HCM = dt.timezone(dt.timedelta(hours=7))


async def test_a_supervisor_adds_a_recognition_and_records_a_status(db: Database) -> None:
    world = await make_world(db)
    clock = Clock()  # its day is the "today" of the flow
    engine = make_engine(db, clock)
    supervisor = staff(engine, "s-vinh")
    await supervisor.press("m:register")
    assert "Register of recognised units: Thành phố Vinh" in supervisor.text
    assert "No recognition recorded yet." in supervisor.text
    await supervisor.press("rg:add")
    await supervisor.say("nghi huong")
    await supervisor.press(f"rgf:u:{world.units['nghi-huong']}")
    await supervisor.press("rgf:k:model")
    await supervisor.press("rgf:l:district")
    await supervisor.say("45/QĐ-UBND")
    await supervisor.say("31/02/2025")
    assert "Please type a date such as 15/03/2025." in supervisor.text
    await supervisor.say("15/03/2025")
    await supervisor.say("UBND thành phố Vinh")
    assert "Add to the register?" in supervisor.text
    assert "Phường Nghi Hương — model unit (by the district), 45/QĐ-UBND 15/03/2025" in (
        supervisor.text
    )
    await supervisor.press("rgf:save")
    assert "Saved." in supervisor.text and "Status: recognised since 15/03/2025" in supervisor.text
    async with db.sessions() as s:
        r = (await s.execute(select(Recognition))).scalar_one()
    assert (r.kind, r.level, r.decision_no, r.decided_by) == (
        "model",
        "district",
        "45/QĐ-UBND",
        "UBND thành phố Vinh",
    )
    await supervisor.press(f"rg:s:{r.id}:maintained")
    assert "Recorded: maintained" in supervisor.text
    async with db.sessions() as s:
        events = (await s.execute(select(RecognitionEvent.status, RecognitionEvent.source))).all()
        actions = (await s.execute(select(Audit.action).order_by(Audit.id))).scalars().all()
    assert sorted(tuple(e) for e in events) == [("maintained", "bot"), ("recognised", "bot")]
    assert list(actions)[-2:] == ["recognition.add", "recognition.status"]  # before the export
    await supervisor.press("m:register")
    assert "model unit: 1" in supervisor.text
    await supervisor.press(f"rg:x:{world.units['vinh']}")
    exported = (supervisor.last[0].document or b"").decode("utf-8-sig").splitlines()
    assert exported == [
        "unit_code,kind,level,decided_by,decision_no,decided_on,status,status_on,note",
        "nghi-huong,model,district,UBND thành phố Vinh,45/QĐ-UBND,15/03/2025,recognised,"
        "15/03/2025,",
        f"nghi-huong,model,district,UBND thành phố Vinh,45/QĐ-UBND,15/03/2025,maintained,"
        f"{clock.now.astimezone(HCM):%d/%m/%Y},",
    ]

    # An officer has no entry; a forged button is refused; another district cannot see it.
    officer = staff(engine, "o-nh")
    await officer.press("/menu")
    assert "m:register" not in officer.choices
    await officer.press(f"rg:r:{r.id}")
    assert "kept by supervisors and admins" in officer.text
    async with db.sessions() as s:
        from db.members import grant_role

        await grant_role(
            s, world.members["o-bt"], world.units["hung-nguyen"], Role.SUPERVISOR, granted_by=None
        )
        await s.commit()
    other = staff(engine, "o-bt")
    await other.press(f"rg:s:{r.id}:revoked")
    assert "outside your area" in other.text
    async with db.sessions() as s:
        assert (await s.execute(select(Recognition.status))).scalar_one() == "maintained"
