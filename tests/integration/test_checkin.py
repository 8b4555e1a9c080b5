"""Check-ins through the engine on real PostgreSQL: every kind, corrections, bad input,
scoping, pagination, recurring periods and evidence."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import select

from db.checkins import (
    ATTACHMENT_OWNER,
    CheckinStatus,
    Progress,
    append_checkin,
    assignment_progress,
    period_key,
)
from db.models import Attachment, Checkin, Member, Role, TaskKind
from db.session import Database
from handlers.checkin import parse_number
from handlers.flow import Invalid
from handlers.i18n import DEFAULT_LANGUAGE, set_language
from handlers.types import MediaRef
from tests.integration.plan_fixtures import (
    START,
    World,
    add_task,
    assign,
    checkins,
    count,
    enrol,
    make_engine,
    make_world,
)
from tests.support import Clock, Person

D = dt.date


@pytest.fixture
def english() -> Iterator[None]:
    """Hints in English for the pure tests (the context's language is Vietnamese)."""
    set_language("en")
    yield
    set_language(DEFAULT_LANGUAGE)


async def officer(db: Database, clock: Clock, world: World, user: str = "1") -> Person:
    return await enrol(db, make_engine(db, clock), user, world.a, Role.OFFICER)


# --- numbers (pure) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "whole", "expected"),
    [
        ("3", True, "3"),
        ("1.234", True, "1234"),
        ("1.234.567", True, "1234567"),
        ("1 234", True, "1234"),
        ("12,5", False, "12.5"),
        ("12.5", False, "12.5"),
        ("1.234,5", False, "1234.5"),
        ("1,234,567", True, "1234567"),
        ("1,234", False, "1.23"),  # a comma marks decimals; kept to 2 places
        ("30%", False, "30"),
        ("+4", True, "4"),
    ],
)
def test_parse_number_accepts_vietnamese_separators(text: str, whole: bool, expected: str) -> None:
    assert parse_number(text, whole=whole) == Decimal(expected)


@pytest.mark.parametrize(
    ("text", "whole", "hint"),
    [
        ("-1", True, "negative"),
        ("−2", True, "negative"),
        ("ba", True, "send a number"),
        ("", True, "send a number"),
        ("1,5", True, "whole number"),
        ("1,234", True, "whole number"),  # a comma marks decimals: 1,234 is 1.234
        ("12..5", False, "send a number"),
        ("1.000.000.000", True, "too large"),
    ],
)
def test_parse_number_refuses_bad_input(text: str, whole: bool, hint: str, english: None) -> None:
    with pytest.raises(Invalid) as err:
        parse_number(text, whole=whole)
    assert hint in str(err.value)


@pytest.mark.parametrize(
    ("cadence", "local_day", "key"),
    [
        ("quarterly", D(2025, 9, 30), "2025-Q3"),
        ("quarterly", D(2025, 10, 1), "2025-Q4"),
        (None, D(2025, 9, 2), "2025-09"),
        ("monthly", D(2025, 12, 31), "2025-12"),
        ("yearly", D(2025, 3, 1), "2025"),
        ("half-yearly", D(2025, 7, 1), "2025-H2"),
        ("weekly", D(2025, 9, 1), "2025-W36"),
    ],
)
def test_period_keys(cadence: str | None, local_day: dt.date, key: str) -> None:
    assert period_key(cadence, local_day) == key


# --- my tasks -------------------------------------------------------------------------------


async def test_my_tasks_lists_target_latest_deadline_and_days(db: Database) -> None:
    world = await make_world(db)
    schools = await add_task(db, world, TaskKind.COUNT, "Trường điển hình", "Model schools")
    festival = await add_task(db, world, TaskKind.MILESTONE, "Ngày hội", "Hold the festival")
    await assign(db, schools, world.a, D(2025, 5, 10), target=4)
    await assign(db, festival, world.a, D(2025, 5, 1))
    await assign(db, festival, world.b, D(2025, 5, 1))  # another commune's: not listed
    # 2025-05-04 19:00 UTC is already 5 May in Hồ Chí Minh City.
    clock = Clock(dt.datetime(2025, 5, 4, 19, 0, tzinfo=dt.UTC))
    person = await officer(db, clock, world)
    await person.say("/start")
    await person.press("m:tasks")
    text = person.text
    assert "Tasks of Xã Nam Anh: 2" in text
    assert "Model schools" in text and "target 4" in text and "no check-in yet" in text
    assert "deadline 10/05/2025 (5 days left)" in text
    assert "Hold the festival" in text and "deadline 01/05/2025 (4 days overdue)" in text
    assert text.index("Hold the festival") < text.index("Model schools")  # nearest deadline first
    assert len([c for c in person.choices if c.startswith("ck:a:")]) == 2


async def test_titles_follow_the_persons_language(db: Database) -> None:
    world = await make_world(db)
    task = await add_task(db, world, TaskKind.MILESTONE, "Ra mắt mô hình", "Launch the model")
    await assign(db, task, world.a, D(2025, 12, 31))
    person = await enrol(db, make_engine(db, Clock(START)), "9", world.a, Role.FORCE, language="vi")
    await person.press("m:tasks")
    assert "Ra mắt mô hình" in person.text and "Launch the model" not in person.text


async def test_pagination_eight_a_page(db: Database) -> None:
    world = await make_world(db)
    ids = []
    for i in range(19):
        task = await add_task(db, world, TaskKind.MILESTONE, f"Việc {i:02d}", f"Job {i:02d}")
        ids.append(await assign(db, task, world.a, D(2025, 6, 1) + dt.timedelta(days=i)))
    person = await officer(db, Clock(START), world)
    await person.press("m:tasks")
    assert "page 1/3" in person.text
    assert [c for c in person.choices if c.startswith("ck:a:")] == [f"ck:a:{i}" for i in ids[:8]]
    assert "ck:l:1" in person.choices and not any(c == "ck:l:-1" for c in person.choices)
    await person.press("ck:l:1")
    assert "page 2/3" in person.text and "Job 08" in person.text and "Job 07" not in person.text
    assert {"ck:l:0", "ck:l:2"} <= set(person.choices)
    await person.press("ck:l:2")
    assert [c for c in person.choices if c.startswith("ck:a:")] == [f"ck:a:{i}" for i in ids[16:]]
    assert "ck:l:3" not in person.choices
    # Without buttons (Zalo): the number of a line opens it.
    await person.say("2")
    assert "Job 17" in person.text and f"ck:n:{ids[17]}" in person.choices
    await person.press("ck:l:99")  # past the end: the last page
    assert "page 3/3" in person.text


# --- every kind ----------------------------------------------------------------------------


async def test_milestone_done_with_note_and_photo_evidence(db: Database) -> None:
    world = await make_world(db)
    task = await add_task(db, world, TaskKind.MILESTONE, "Ngày hội", "Hold the festival")
    aid = await assign(db, task, world.a, D(2025, 8, 19))
    person = await officer(db, Clock(START), world)
    await person.press(f"ck:a:{aid}")
    assert "Hold the festival" in person.text and "Deadline: 19/08/2025" in person.text
    await person.press(f"ck:n:{aid}")
    assert {f"ci:st:{s}" for s in ("not_started", "in_progress", "done", "blocked")} <= set(
        person.choices
    )
    await person.press("ci:st:done")
    await person.say("Đã tổ chức <b>xong</b>")
    photo = MediaRef("photo", "AgAD-photo-1", file_unique_id="u1", mime="image/jpeg", size=52_000)
    await person.send_media(photo)
    assert "Result: done" in person.text and "1 file attached" in person.text
    assert "<b>xong</b>" in person.text  # escaped in the HTML, shown as typed
    assert "&lt;b&gt;xong" in person.last[-1].text
    assert await count(db, Checkin) == 0, "nothing is saved before Save"
    await person.press("ci:save")
    assert "Check-in saved." in person.text
    [row] = await checkins(db)
    assert (row.status, row.note, row.value, row.member_id) == (
        "done",
        "Đã tổ chức <b>xong</b>",
        None,
        row.member_id,
    )
    assert row.created_at == START
    async with db.sessions() as s:
        [att] = (await s.execute(select(Attachment))).scalars().all()
    assert (att.owner_kind, att.owner_id, att.file_id, att.kind, att.size, att.mime) == (
        ATTACHMENT_OWNER,
        row.id,
        "AgAD-photo-1",
        "photo",
        52_000,
        "image/jpeg",
    )
    assert att.channel == "test" and att.sha256 is None and att.stored_path is None
    assert "✅ done" in person.text and "(1 file)" in person.text


async def test_milestone_blocked_asks_a_reason(db: Database) -> None:
    world = await make_world(db)
    task = await add_task(db, world, TaskKind.MILESTONE, "Mô hình", "Pilot model")
    aid = await assign(db, task, world.a, D(2025, 12, 31))
    person = await officer(db, Clock(START), world)
    await person.press(f"ck:n:{aid}")
    await person.press("ci:st:blocked")
    assert "What is blocking it?" in person.text
    await person.say("   ")
    assert "what is blocking it" in person.text.lower()
    await person.say("Chưa có kinh phí")
    assert "Attach evidence?" in person.text  # the reason is the note: no separate note step
    await person.press("ci:skip")
    assert "Note: Chưa có kinh phí" in person.text
    await person.press("ci:save")
    [row] = await checkins(db)
    assert (row.status, row.note) == ("blocked", "Chưa có kinh phí")
    a = await _progress(db, aid)
    assert a.progress(D(2025, 5, 5)) == Progress.BLOCKED


async def test_count_against_target(db: Database) -> None:
    world = await make_world(db)
    task = await add_task(db, world, TaskKind.COUNT, "Cơ sở giáo dục", "Model schools")
    aid = await assign(db, task, world.a, D(2025, 12, 31), target=4)
    person = await officer(db, Clock(START), world)
    await person.press(f"ck:n:{aid}")
    assert "Target: 4" in person.text
    await person.say("3")
    await person.press("ci:skip")
    await person.send_media(MediaRef("photo", "p1"), caption="Trường THCS Nam Anh")
    assert "Result: 3/4" in person.text
    assert "Note: Trường THCS Nam Anh" in person.text  # the caption serves as the note
    await person.press("ci:save")
    [row] = await checkins(db)
    assert (row.value, row.status, row.eligible) == (Decimal("3"), "in_progress", None)
    assert row.note == "Trường THCS Nam Anh"
    assert "Latest: 3/4" in person.text


async def test_count_accepts_thousands_with_dots(db: Database) -> None:
    world = await make_world(db)
    task = await add_task(db, world, TaskKind.COUNT, "Tuyên truyền", "Leaflets handed out")
    aid = await assign(db, task, world.a, D(2025, 12, 31), target=1000)
    person = await officer(db, Clock(START), world)
    await person.press(f"ck:n:{aid}")
    await person.say("1.234")
    await person.press("ci:skip")
    await person.press("ci:skip")
    await person.press("ci:save")
    [row] = await checkins(db)
    assert (row.value, row.status) == (Decimal("1234"), "done")


async def test_percent_over_tracked_communes(db: Database) -> None:
    world = await make_world(db)
    task = await add_task(db, world, TaskKind.PERCENT, "Xã sạch ma túy", "Drug-free communes")
    aid = await assign(db, task, world.district, D(2025, 12, 31), target=30)
    person = await enrol(db, make_engine(db, Clock(START)), "2", world.district, Role.OFFICER)
    await person.press(f"ck:n:{aid}")
    # Nam Đàn has three communes and one township (ward kind): four eligible.
    assert "How many of the 4 communes and wards" in person.text and "30%" in person.text
    await person.say("5")
    assert "only 4 communes and wards" in person.text and "from 0 to 4" in person.text
    await person.say("1,5")
    assert "whole number" in person.text
    await person.say("2")
    await person.press("ci:skip")
    await person.press("ci:skip")
    assert "Result: 2/4 = 50% (target 30%)" in person.text
    await person.press("ci:save")
    [row] = await checkins(db)
    assert (row.value, row.eligible, row.status) == (Decimal("2"), 4, "done")
    assert (await _progress(db, aid)).is_done(D(2025, 5, 5))


async def test_percent_untracked_asks_the_share(db: Database) -> None:
    world = await make_world(db)
    task = await add_task(db, world, TaskKind.PERCENT, "Cựu CAND", "Former police model")
    aid = await assign(db, task, world.a, D(2025, 12, 31), target=50)  # a commune: no sub-units
    person = await officer(db, Clock(START), world)
    await person.press(f"ck:n:{aid}")
    assert "What share has been achieved, in percent" in person.text
    await person.say("150")
    assert "cannot be above 100%" in person.text
    await person.say("12,5")
    await person.press("ci:skip")
    await person.press("ci:skip")
    assert "Result: 12.5% (target 50%)" in person.text
    await person.press("ci:save")
    [row] = await checkins(db)
    assert (row.value, row.eligible, row.status) == (Decimal("12.5"), None, "in_progress")
    assert (await _progress(db, aid)).fraction(D(2025, 5, 5)) == pytest.approx(0.25)


async def test_report_needs_the_document(db: Database) -> None:
    world = await make_world(db)
    task = await add_task(db, world, TaskKind.REPORT, "Báo cáo 6 tháng", "Six-month report")
    aid = await assign(db, task, world.a, D(2025, 6, 10))
    person = await officer(db, Clock(START), world)
    await person.press(f"ck:n:{aid}")
    assert "Send the report document" in person.text
    await person.say("đã gửi")
    assert "as a file or a photo" in person.text
    await person.send_media(MediaRef("voice", "voice-1"))
    assert "Only photos and documents" in person.text
    doc = MediaRef("document", "BQAD-doc", mime="application/pdf", size=120_000, name="bc.pdf")
    await person.send_media(doc)
    await person.press("ci:skip")  # the note; no evidence step after a report
    assert "Result: submitted" in person.text and "1 file attached" in person.text
    await person.press("ci:save")
    [row] = await checkins(db)
    assert row.status == "submitted"
    async with db.sessions() as s:
        [att] = (await s.execute(select(Attachment))).scalars().all()
    assert (att.owner_id, att.kind, att.file_id, att.size) == (
        row.id,
        "document",
        "BQAD-doc",
        120_000,
    )
    assert (await _progress(db, aid)).is_done(D(2025, 6, 1))


async def test_recurring_records_the_current_period(db: Database) -> None:
    world = await make_world(db)
    quarterly = await add_task(
        db, world, TaskKind.RECURRING, "Báo cáo quý", "Quarterly report", cadence="quarterly"
    )
    monthly = await add_task(db, world, TaskKind.RECURRING, "Tập huấn", "Training")
    q_id = await assign(db, quarterly, world.a, D(2025, 12, 31))
    m_id = await assign(db, monthly, world.a, D(2025, 12, 31))
    # 30/09 17:30 UTC is 1 October 00:30 in Hồ Chí Minh City: the fourth quarter.
    clock = Clock(dt.datetime(2025, 9, 30, 17, 30, tzinfo=dt.UTC))
    person = await officer(db, clock, world)
    await person.press(f"ck:a:{q_id}")
    assert "Current period: 2025-Q4" in person.text
    await person.press(f"ck:n:{q_id}")
    assert "Period 2025-Q4" in person.text
    await person.press("ci:st:done")
    await person.press("ci:skip")
    await person.press("ci:skip")
    await person.press("ci:save")
    await person.press(f"ck:n:{m_id}")
    # no cadence in the text: no period is invented for it
    assert "Period" not in person.text and "Where does it stand?" in person.text
    await person.press("ci:st:in_progress")
    await person.press("ci:skip")
    await person.press("ci:skip")
    await person.press("ci:save")
    rows = await checkins(db)
    assert [(r.period, r.status) for r in rows] == [("2025-Q4", "done"), (None, "in_progress")]
    a = await _progress(db, q_id)
    assert a.is_done(D(2025, 10, 1)) and not a.is_done(D(2026, 1, 2))  # a new quarter is due


# --- corrections -----------------------------------------------------------------------------


async def _count_checkin(person: Person, aid: int, value: str) -> None:
    await person.say(value)
    await person.press("ci:skip")
    await person.press("ci:skip")
    await person.press("ci:save")


async def test_correction_within_24_hours_supersedes(db: Database) -> None:
    world = await make_world(db)
    task = await add_task(db, world, TaskKind.COUNT, "Doanh nghiệp", "Model enterprises")
    aid = await assign(db, task, world.a, D(2025, 12, 31), target=2)
    clock = Clock(START)
    person = await officer(db, clock, world)
    await person.press(f"ck:n:{aid}")
    await _count_checkin(person, aid, "2")
    assert f"ck:c:{aid}" in person.choices
    clock.advance(hours=23)
    await person.press(f"ck:a:{aid}")
    await person.press(f"ck:c:{aid}")
    assert "Correcting your last check-in" in person.text
    await _count_checkin(person, aid, "1")
    assert "Correction saved." in person.text
    first, second = await checkins(db)
    assert second.supersedes_id == first.id and first.value == 2 and second.value == 1
    a = await _progress(db, aid)
    assert a.latest is not None and a.latest.checkin_id == second.id
    assert "(corrected)" in person.text and "(correction)" in person.text
    # The correction is now the last check-in: correctable in turn, the original never again.
    assert f"ck:c:{aid}" in person.choices


async def test_no_correction_after_24_hours(db: Database) -> None:
    world = await make_world(db)
    task = await add_task(db, world, TaskKind.COUNT, "Doanh nghiệp", "Model enterprises")
    aid = await assign(db, task, world.a, D(2025, 12, 31), target=2)
    clock = Clock(START)
    person = await officer(db, clock, world)
    await person.press(f"ck:n:{aid}")
    await _count_checkin(person, aid, "2")
    clock.advance(hours=24, minutes=1)
    await person.press(f"ck:a:{aid}")
    assert f"ck:c:{aid}" not in person.choices and f"ck:n:{aid}" in person.choices
    await person.press(f"ck:c:{aid}")  # a stale button
    assert "within 24 hours" in person.text
    assert await count(db, Checkin) == 1


async def test_correction_window_expires_before_save(db: Database) -> None:
    world = await make_world(db)
    task = await add_task(db, world, TaskKind.COUNT, "Doanh nghiệp", "Model enterprises")
    aid = await assign(db, task, world.a, D(2025, 12, 31), target=2)
    clock = Clock(START)
    person = await officer(db, clock, world)
    await person.press(f"ck:n:{aid}")
    await _count_checkin(person, aid, "2")
    clock.advance(hours=23, minutes=50)
    await person.press(f"ck:c:{aid}")
    await person.say("1")
    await person.press("ci:skip")
    await person.press("ci:skip")
    clock.advance(minutes=15)
    await person.press("ci:save")
    assert "within 24 hours" in person.text
    assert await count(db, Checkin) == 1


async def test_only_ones_own_last_checkin_is_correctable(db: Database) -> None:
    world = await make_world(db)
    task = await add_task(db, world, TaskKind.COUNT, "Doanh nghiệp", "Model enterprises")
    aid = await assign(db, task, world.a, D(2025, 12, 31), target=2)
    clock = Clock(START)
    engine = make_engine(db, clock)
    first = await enrol(db, engine, "1", world.a, Role.OFFICER, name="Lê Văn Một")
    second = await enrol(db, engine, "2", world.a, Role.FORCE, name="Trần Thị Hai")
    await first.press(f"ck:n:{aid}")
    await _count_checkin(first, aid, "1")
    await second.press(f"ck:a:{aid}")
    assert f"ck:c:{aid}" not in second.choices  # nothing of theirs to correct
    await second.press(f"ck:c:{aid}")
    assert "within 24 hours" in second.text
    assert await count(db, Checkin) == 1


async def test_latest_ignores_superseded_rows(db: Database) -> None:
    world = await make_world(db)
    task = await add_task(db, world, TaskKind.COUNT, "Doanh nghiệp", "Model enterprises")
    aid = await assign(db, task, world.a, D(2025, 12, 31), target=5)
    async with db.sessions() as s:
        member = Member(full_name="x")
        s.add(member)
        await s.flush()
        old = await append_checkin(
            s,
            assignment_id=aid,
            member_id=member.id,
            at=START,
            status="in_progress",
            value=Decimal(1),
        )
        # A correction stamped earlier than the row it replaces (a clock step back):
        # the newest row is superseded, so the correction is the latest value.
        await append_checkin(
            s,
            assignment_id=aid,
            member_id=member.id,
            at=START - dt.timedelta(hours=1),
            status="in_progress",
            value=Decimal(4),
            supersedes_id=old.id,
        )
        await s.commit()
    a = await _progress(db, aid)
    assert a.latest is not None and a.latest.value == Decimal(4)


# --- bad input, scope and rights -----------------------------------------------------------


async def test_bad_numbers_ask_again_and_save_nothing(db: Database) -> None:
    world = await make_world(db)
    task = await add_task(db, world, TaskKind.COUNT, "Cơ sở giáo dục", "Model schools")
    aid = await assign(db, task, world.a, D(2025, 12, 31), target=4)
    person = await officer(db, Clock(START), world)
    await person.press(f"ck:n:{aid}")
    for bad, hint in [
        ("-1", "cannot be negative"),
        ("ba cơ sở", "Please send a number"),
        ("2,5", "whole number"),
    ]:
        await person.say(bad)
        assert hint in person.text
        assert "How many have been achieved so far? Target: 4." in person.text  # asked again
    await person.send_media(MediaRef("photo", "p"))
    assert "Please send a number" in person.text
    assert await count(db, Checkin) == 0
    await person.say("/cancel")
    assert await count(db, Checkin) == 0


async def test_cancel_and_edit_at_the_summary(db: Database) -> None:
    world = await make_world(db)
    task = await add_task(db, world, TaskKind.COUNT, "Cơ sở giáo dục", "Model schools")
    aid = await assign(db, task, world.a, D(2025, 12, 31), target=4)
    person = await officer(db, Clock(START), world)
    await person.press(f"ck:n:{aid}")
    await person.say("3")
    await person.say("ghi chú")
    await person.send_media(MediaRef("photo", "p1"))
    await person.send_media(MediaRef("photo", "p2"))  # the rest of an album, at the summary
    assert "2 files attached" in person.text
    await person.press("ci:edit")
    assert "How many have been achieved" in person.text
    await person.say("4")
    await person.press("ci:skip")
    await person.press("ci:skip")
    assert "Result: 4/4" in person.text and "file" not in person.text
    await person.say("maybe")
    assert "Choose one of the options" in person.text and "ci:save" in person.choices
    await person.press("ci:cancel")
    assert "Nothing was saved" in person.text
    assert await count(db, Checkin) == 0 and await count(db, Attachment) == 0


async def test_commune_officer_cannot_check_in_for_another_commune(db: Database) -> None:
    world = await make_world(db)
    task = await add_task(db, world, TaskKind.MILESTONE, "Mô hình", "Pilot model")
    own = await assign(db, task, world.a, D(2025, 12, 31))
    other = await assign(db, task, world.b, D(2025, 12, 31))
    person = await officer(db, Clock(START), world)
    await person.press("m:tasks")
    assert f"ck:a:{own}" in person.choices and f"ck:a:{other}" not in person.choices
    for forged in (f"ck:n:{other}", f"ck:a:{other}", f"ck:c:{other}", "ck:n:99999", "ck:x:1"):
        await person.press(forged)
        assert "not assigned to your unit" in person.text or "no longer valid" in person.text
        assert f"ck:a:{own}" in person.choices  # the question again: the task list
    # Mid-flow, a forged button leaves the question where it was.
    await person.press(f"ck:n:{own}")
    await person.press(f"ck:n:{other}")
    assert "not assigned to your unit" in person.text and "ci:st:done" in person.choices
    await person.press("ci:st:done")
    assert "Add a note?" in person.text
    assert await count(db, Checkin) == 0


async def test_citizen_has_no_tasks_and_cannot_check_in(db: Database) -> None:
    world = await make_world(db)
    task = await add_task(db, world, TaskKind.MILESTONE, "Mô hình", "Pilot model")
    aid = await assign(db, task, world.a, D(2025, 12, 31))
    citizen = Person(make_engine(db, Clock(START)), "555", language_code="en")
    await citizen.say("/start")
    assert "m:tasks" not in citizen.choices
    await citizen.press(f"ck:n:{aid}")
    assert "Only the officers and grassroots force members" in citizen.text
    await citizen.press(f"ck:a:{aid}")
    assert "not assigned to your unit" in citizen.text
    await citizen.press("m:tasks")
    assert "not available to you" in citizen.text
    assert await count(db, Checkin) == 0


async def test_supervisor_sees_the_subtree_but_does_not_check_in(db: Database) -> None:
    world = await make_world(db)
    task = await add_task(db, world, TaskKind.MILESTONE, "Mô hình", "Pilot model")
    in_a = await assign(db, task, world.a, D(2025, 12, 31))
    in_district = await assign(db, task, world.district, D(2025, 12, 30))
    elsewhere = await assign(db, task, world.e, D(2025, 12, 31))
    person = await enrol(db, make_engine(db, Clock(START)), "7", world.district, Role.SUPERVISOR)
    await person.press("m:tasks")
    assert {f"ck:a:{in_a}", f"ck:a:{in_district}"} <= set(person.choices)
    assert f"ck:a:{elsewhere}" not in person.choices
    assert "Xã Nam Anh" in person.text  # lines name their unit
    await person.press(f"ck:a:{in_a}")
    assert f"ck:n:{in_a}" not in person.choices
    await person.press(f"ck:n:{in_a}")
    assert "Supervisors follow progress" in person.text
    await person.press(f"ck:a:{elsewhere}")
    assert "not assigned to your unit" in person.text
    assert await count(db, Checkin) == 0


async def test_revoked_role_cannot_save(db: Database) -> None:
    world = await make_world(db)
    task = await add_task(db, world, TaskKind.MILESTONE, "Mô hình", "Pilot model")
    aid = await assign(db, task, world.a, D(2025, 12, 31))
    person = await officer(db, Clock(START), world)
    await person.press(f"ck:n:{aid}")
    await person.press("ci:st:done")
    await person.press("ci:skip")
    await person.press("ci:skip")
    async with db.sessions() as s:
        from db.models import RoleGrant

        grant = (await s.execute(select(RoleGrant))).scalar_one()
        grant.revoked_at = START
        await s.commit()
    await person.press("ci:save")
    assert "not assigned to your unit" in person.text
    assert await count(db, Checkin) == 0


async def _progress(db: Database, aid: int):  # type: ignore[no-untyped-def]
    async with db.sessions() as s:
        a = await assignment_progress(s, aid)
    assert a is not None
    return a


def test_checkin_statuses_are_short() -> None:
    assert all(len(s.value) <= 16 for s in CheckinStatus)  # checkin.status is String(16)
