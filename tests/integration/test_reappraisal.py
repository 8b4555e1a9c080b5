"""Re-appraisal from tips: a drugs tip confirmed by the closing officer in a ward recognised
drug-free flags the recognition and tells the district's supervisors; on real PostgreSQL
through the real engine."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from db.models import Recognition, RecognitionEvent
from db.register_csv import ensure_recognition
from db.session import Database
from tests.integration.test_triage import tip_ids
from tests.integration.tip_helpers import (
    make_engine,
    make_world,
    outbox_choices,
    outbox_of,
    outbox_text,
    send_tip,
    staff,
)
from tests.support import Clock, Person


async def _recognise(db: Database, unit_id: int) -> None:
    async with db.sessions() as s:
        await ensure_recognition(
            s,
            unit_id=unit_id,
            kind="drug_free",
            level=None,
            decided_by="UBND tỉnh Nghệ An",
            decision_no="1234/QĐ-UBND",
            decided_on=dt.date(2024, 6, 1),
            source="csv",
            actor_member_id=None,
        )
        await s.commit()


async def _events(db: Database) -> list[tuple[str, int | None, str]]:
    async with db.sessions() as s:
        stmt = select(RecognitionEvent.status, RecognitionEvent.tip_id, RecognitionEvent.source)
        return [tuple(r) for r in (await s.execute(stmt.order_by(RecognitionEvent.id))).all()]


async def test_a_confirmed_drugs_tip_flags_the_recognition_to_the_district(db: Database) -> None:
    world = await make_world(db)
    await _recognise(db, world.units["nghi-huong"])
    engine = make_engine(db, Clock())
    citizen = Person(engine, "rep-1", language_code="en")
    await send_tip(citizen)  # drugs, in Nghi Hương
    await send_tip(citizen, text="Needles left in the park again this morning.")
    first, second = await tip_ids(db)
    officer = staff(engine, "o-nh")

    # Closed as handled, the officer says no case was confirmed: nothing flagged.
    await officer.press(f"tr:out:{first}:handled")
    assert "recognised drug-free (decision 1234/QĐ-UBND of 01/06/2024)" in officer.text
    assert set(officer.choices) >= {f"tr:dg:{first}:y", f"tr:dg:{first}:n"}
    await officer.press(f"tr:dg:{first}:n")
    await officer.press("trf:skip")
    assert "Closed." in officer.text and "re-appraisal" not in officer.text
    assert await _events(db) == [("recognised", None, "csv")]

    # The second is confirmed: flagged, the Vinh supervisor told, not the province's.
    await officer.press(f"tr:out:{second}:handled")
    await officer.press(f"tr:dg:{second}:y")
    await officer.say("Two arrests; the case is with the district.")
    assert "flagged for re-appraisal" in officer.text
    assert await _events(db) == [("recognised", None, "csv"), ("reappraisal", second, "tip")]
    async with db.sessions() as s:
        recognition = (await s.execute(select(Recognition))).scalar_one()
    assert (recognition.status, recognition.ended_on) == ("reappraisal", None)  # still in force
    told = outbox_text(await outbox_of(db, "s-vinh"))
    assert "Drug-free recognition to re-appraise" in told
    assert f"tip #{second}, closed by Trần Thị Hoa" in told
    assert f"tr:open:{second}" in outbox_choices(await outbox_of(db, "s-vinh"))
    assert "re-appraise" not in outbox_text(await outbox_of(db, "s-tinh"))
    assert "re-appraise" not in outbox_text(await outbox_of(db, "rep-1"))


async def test_other_outcomes_and_unrecognised_units_ask_nothing(db: Database) -> None:
    world = await make_world(db)
    await _recognise(db, world.units["nghi-huong"])
    engine = make_engine(db, Clock())
    citizen = Person(engine, "rep-2", language_code="en")
    await send_tip(citizen)
    await send_tip(citizen, place="ben thuy")  # Bến Thủy is not recognised
    first, second = await tip_ids(db)
    nh = staff(engine, "o-nh")
    await nh.press(f"tr:out:{first}:referred")
    assert "Write a short note for the reporter" in nh.text
    bt = staff(engine, "o-bt")
    await bt.press(f"tr:out:{second}:handled")
    assert "Write a short note for the reporter" in bt.text
    assert not any(c.startswith("tr:dg:") for c in bt.choices)
