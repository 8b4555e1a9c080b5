"""Phone-first traps of issue 16, through the engine on real PostgreSQL: a way back from
each step, /lang keeping the draft, the reply keyboard taken away, "Send" tapped twice,
/help by role, and the small wording traps."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from db.models import Checkin, Role, TaskKind, Tip
from db.session import Database
from handlers.types import MediaRef
from tests.integration import plan_fixtures as plan
from tests.integration.tip_helpers import make_engine, make_world, send_tip
from tests.support import Clock, Person


async def tips(db: Database) -> int:
    async with db.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(Tip)) or 0)


async def to_place_step(citizen: Person) -> None:
    await citizen.press("m:tip")
    await citizen.press("tip:cat:drugs")
    await citizen.say("Pills are sold at the bus stop every evening.")
    await citizen.press("tip:done")


# --- a way back ------------------------------------------------------------------------


async def test_the_category_list_has_a_cancel(db: Database) -> None:
    await make_world(db)
    citizen = Person(make_engine(db), "pf-1", language_code="en")
    await citizen.press("m:tip")
    assert citizen.choices[-1] == "tip:cancel"
    await citizen.press("tip:cancel")
    assert "Cancelled. Nothing was sent." in citizen.text
    assert "m:tip" in citizen.choices
    await citizen.press("m:tip")  # Zalo: the number of the last line works too
    await citizen.say(str(len(citizen.choices)))
    assert "Cancelled" in citizen.text


async def test_my_tasks_and_the_number_prompt_lead_back(db: Database) -> None:
    world = await plan.make_world(db)
    clock = Clock(dt.datetime(2025, 5, 5, 2, 0, tzinfo=dt.UTC))
    task = await plan.add_task(db, world, TaskKind.COUNT, "Trường điển hình", "Model schools")
    aid = await plan.assign(db, task, world.a, dt.date(2025, 6, 30), target=4)
    officer = await plan.enrol(db, plan.make_engine(db, clock), "pf-o", world.a, Role.OFFICER)
    await officer.press("m:tasks")
    assert officer.choices[-1] == "nav:menu", "My tasks leads back to the menu"
    assert "no check-in yet" in officer.text and "reported: no check-in" not in officer.text
    await officer.press(f"ck:n:{aid}")
    assert "Send a number." in officer.text
    assert officer.last[-1].numeric_answer, "Zalo must not read a typed count as a choice"
    assert f"ck:a:{aid}" in officer.choices
    await officer.press(f"ck:a:{aid}")
    assert "Model schools" in officer.text and f"ck:n:{aid}" in officer.choices
    assert await plan.count(db, Checkin) == 0
    await officer.press("ck:l:0")
    await officer.press("nav:menu")
    assert "m:tasks" in officer.choices and officer.choices[0].startswith("m:")


# --- /lang in the middle of a flow, and the reply keyboard ------------------------------


async def test_lang_at_the_place_step_keeps_the_draft_and_comes_back(db: Database) -> None:
    await make_world(db)
    citizen = Person(make_engine(db), "pf-2", language_code="en")
    await citizen.press("m:tip")
    await citizen.press("tip:cat:drugs")
    await citizen.say("Pills are sold at the bus stop every evening.")
    await citizen.send_media(MediaRef("photo", "ph-1"), caption="photo of the river bank")
    await citizen.press("tip:done")
    assert any(m.request == "location" for m in citizen.last)
    await citizen.say("/lang")
    assert "kept" in citizen.text
    assert citizen.last[0].remove_keyboard, "the location keyboard goes with the flow"
    await citizen.press("lang:vi")
    assert "Đã chuyển sang tiếng Việt." in citizen.text
    assert "Xảy ra ở đâu" in citizen.text or any(m.request == "location" for m in citizen.last)
    await citizen.say("nghi huong")
    await citizen.press("tip:skip")
    await citizen.press("tip:anon")
    assert "Ma túy" in citizen.text, "the category chosen before /lang is kept"
    assert "Tin báo được gửi ẩn danh." in citizen.text
    await citizen.press("tip:send")
    async with db.sessions() as s:
        tip = await s.scalar(select(Tip))
    assert tip is not None and tip.category == "drugs"
    # The caption is kept apart from the description, never run on.
    assert tip.description == (
        "Pills are sold at the bus stop every evening.\n\n📎 photo of the river bank"
    )


async def test_cancel_and_menu_take_the_location_keyboard_away(db: Database) -> None:
    await make_world(db)
    for command in ("/cancel", "/menu"):
        citizen = Person(make_engine(db), f"pf-3{command}", language_code="en")
        await to_place_step(citizen)
        await citizen.say(command)
        removal = citizen.last[0]
        assert removal.remove_keyboard and not removal.choices, command
        assert "m:tip" in citizen.choices
    # Nothing to take away: one message, as before.
    idle = Person(make_engine(db), "pf-3-idle", language_code="en")
    await idle.say("/cancel")
    assert len(idle.last) == 1 and not idle.last[0].remove_keyboard


async def test_the_location_prompt_says_an_anonymous_tip_carries_the_place(db: Database) -> None:
    await make_world(db)
    citizen = Person(make_engine(db), "pf-4", language_code="vi")
    await to_place_step(citizen)
    location = next(m for m in citizen.last if m.request == "location")
    assert "dù gửi ẩn danh" in location.text and "vị trí chính xác" in location.text


# --- "Send" twice, the contact question ---------------------------------------------------


async def test_send_tapped_again_says_already_sent(db: Database) -> None:
    await make_world(db)
    citizen = Person(make_engine(db), "pf-5", language_code="vi")
    await send_tip(citizen)
    await citizen.press("tip:send")
    assert "đã được gửi rồi" in citizen.text
    assert await tips(db) == 1
    await citizen.press("tip:send")  # and again: still one tip
    assert await tips(db) == 1


async def test_anonymous_or_phone_are_two_buttons(db: Database) -> None:
    await make_world(db)
    citizen = Person(make_engine(db), "pf-6", language_code="vi")
    await to_place_step(citizen)
    await citizen.say("nghi huong")
    await citizen.press("tip:skip")
    assert "Bạn muốn giấu tên hay để lại số điện thoại?" in citizen.text
    assert {"tip:anon", "tip:phone"} <= set(citizen.choices)
    await citizen.press("tip:phone")
    assert any(m.request == "contact" for m in citizen.last)
    await citizen.share_contact("0912 345 678")
    assert "0912 345 678" in citizen.text


# --- /help by role, the join entry ------------------------------------------------------


async def test_help_shows_a_citizen_only_what_a_citizen_can_do(db: Database) -> None:
    await make_world(db)
    citizen = Person(make_engine(db), "pf-7", language_code="en")
    await citizen.say("/help")
    lines = citizen.text.splitlines()
    commands = [line.split(":")[0] for line in lines if line.startswith("/")]
    assert commands[:2] == ["/tip", "/status"], "the most used first"
    for hidden in ("/progress", "/digest", "/export", "/tips", "/me"):
        assert hidden not in commands


async def test_help_of_a_supervisor_and_the_join_entry(db: Database) -> None:
    world = await plan.make_world(db)
    clock = Clock()
    boss = await plan.enrol(
        db, plan.make_engine(db, clock), "pf-8", world.district, Role.SUPERVISOR
    )
    await boss.say("/help")
    commands = [line.split(":")[0] for line in boss.text.splitlines() if line.startswith("/")]
    assert {"/progress", "/digest", "/tips", "/me"} <= set(commands)
    assert commands[:2] == ["/progress", "/digest"], "their own work first"
    assert commands.index("/me") < commands.index("/tip") < commands.index("/menu")
    assert "m:join" not in boss.choices, "no 'Join with an invite code' once registered"
    citizen = Person(plan.make_engine(db, clock), "pf-9", language_code="en")
    await citizen.say("/menu")
    assert "m:join" in citizen.choices


async def test_buttons_start_with_a_capital(db: Database) -> None:
    world = await plan.make_world(db)
    task = await plan.add_task(db, world, TaskKind.MILESTONE, "Mô hình", "Model")
    aid = await plan.assign(db, task, world.a, dt.date(2025, 6, 30))
    officer = await plan.enrol(
        db, plan.make_engine(db, Clock()), "pf-10", world.a, Role.OFFICER, language="vi"
    )
    await officer.press(f"ck:n:{aid}")
    labels = [c.label for m in officer.last for c in m.choices]
    assert "Đang thực hiện" in labels and "Chưa triển khai" in labels
    assert all(not label[:1].islower() for label in labels)


async def test_every_tip_step_has_a_cancel(db: Database) -> None:
    await make_world(db)
    citizen = Person(make_engine(db), "pf-11", language_code="en")
    await citizen.press("m:tip")
    await citizen.press("tip:cat:drugs")
    assert "nav:cancel" in citizen.choices  # the description
    await citizen.say("Pills are sold at the bus stop every evening.")
    assert "nav:cancel" in citizen.choices  # the files
    await citizen.press("tip:done")
    assert "nav:cancel" in citizen.choices  # the place
    await citizen.say("nghi huong")
    assert "nav:cancel" in citizen.choices  # the details
    await citizen.press("tip:skip")
    assert "nav:cancel" in citizen.choices  # anonymous or phone
    await citizen.press("nav:cancel")
    assert "Cancelled. Nothing was saved." in citizen.text
    assert citizen.last[0].remove_keyboard, "the contact keyboard goes too"
    assert await tips(db) == 0
    await citizen.press("tip:anon")  # a stale button of the cancelled flow
    assert await tips(db) == 0 and "m:tip" in citizen.choices
