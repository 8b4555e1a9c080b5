"""Button labels fit one phone line, checked on the longest labels the real plan gives:
its task titles, its tip categories, its unit names (db/data/plan-2025-nghe-an.yaml)."""

from __future__ import annotations

import datetime as dt

from PIL import ImageFont
from sqlalchemy import select

from bot.channels.telegram.render import inline_keyboard
from db.models import Assignment, Role, Task, TipCategory, Unit
from db.plan_import import SHIPPED_PLAN
from db.session import Database
from handlers.chart import REGULAR
from handlers.types import PHONE_LINE
from tests.integration import plan_fixtures as plan
from tests.integration.import_support import import_plan
from tests.integration.tip_helpers import send_tip
from tests.support import Clock, Person

# A phone line: 360 px less the chat's and the button's margins, measured in DejaVu Sans
# (the digest chart's, shipped in handlers/fonts/) at Telegram's 14 px button size (wider
# than the phones' own Roboto, so on the safe side).
LINE_PX = 330
FONT = ImageFont.truetype(str(REGULAR), 14)


def labels(person: Person) -> list[str]:
    shown = [c.label for m in person.last for c in m.choices]
    for label in shown:
        assert len(label) <= PHONE_LINE and FONT.getlength(label) <= LINE_PX, label
    return shown


async def test_the_longest_labels_of_the_real_plan_fit_a_phone_line(db: Database) -> None:
    await import_plan(db, SHIPPED_PLAN)
    async with db.sessions() as s:
        rows = (
            await s.execute(
                select(Task.title_vi, Unit)
                .join(Assignment, Assignment.task_id == Task.id)
                .join(Unit, Unit.id == Assignment.unit_id)
            )
        ).all()
        categories = (await s.scalars(select(TipCategory.title_vi))).all()
    longest_title, unit = max(rows, key=lambda r: len(r[0]))
    assert len(longest_title) > PHONE_LINE, "the plan does have titles too long for a line"
    clock = Clock(dt.datetime(2025, 5, 5, 2, 0, tzinfo=dt.UTC))
    engine = plan.make_engine(db, clock)

    officer = await plan.enrol(db, engine, "bl-1", unit, Role.OFFICER, language="vi")
    await officer.press("m:tasks")
    shown = labels(officer)
    assert shown and all(len(label) <= PHONE_LINE for label in shown), shown
    mine = next(label for label in shown if label.startswith("1. "))
    assert mine.endswith("…") or len(mine) <= PHONE_LINE

    citizen = Person(engine, "bl-2", language_code="vi")
    await citizen.press("m:tip")
    shown = labels(citizen)
    # Every category name is shown whole: they all fit.
    assert set(categories) <= set(shown), (categories, shown)
    assert all(len(label) <= PHONE_LINE for label in shown)

    longest_category = max(categories, key=len)
    code = next(c for c in (await _category_codes(db)) if c[1] == longest_category)[0]
    await send_tip(citizen, category=code, place="nghi huong")
    async with db.sessions() as s:
        commune = await s.scalar(select(Unit).where(Unit.code == "nghi-huong"))
        province = await s.scalar(select(Unit).where(Unit.parent_id.is_(None)))
    assert commune is not None and province is not None
    local = await plan.enrol(db, engine, "bl-3", commune, Role.OFFICER, language="vi")
    await local.say("/tips")
    tip_button = next(label for label in labels(local) if "#" in label)
    assert tip_button.startswith("Mới #"), "the status first"
    assert commune.name not in tip_button, "no commune name in the commune's own inbox"
    assert len(tip_button) <= PHONE_LINE
    boss = await plan.enrol(db, engine, "bl-4", province, Role.SUPERVISOR, language="vi")
    await boss.say("/tips")
    tip_button = next(label for label in labels(boss) if "#" in label)
    assert tip_button.startswith("Mới #") and len(tip_button) <= PHONE_LINE

    # Two columns only while both labels fit half a line (the district list of the tip).
    await citizen.press("m:tip")
    await citizen.press(f"tip:cat:{code}")
    await citizen.say("Có người bán hàng cấm ở chợ.")
    await citizen.press("tip:done")
    await citizen.press("tip:pick")
    districts = next(m for m in citizen.last if m.choices)
    for row in inline_keyboard(districts.choices, districts.columns).inline_keyboard:
        assert sum(len(b.text) for b in row) <= PHONE_LINE or len(row) == 1, row


async def _category_codes(db: Database) -> list[tuple[str, str]]:
    async with db.sessions() as s:
        return [
            tuple(r)
            for r in (await s.execute(select(TipCategory.code, TipCategory.title_vi))).all()
        ]  # type: ignore[misc]
