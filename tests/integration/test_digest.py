"""The daily digest on real PostgreSQL with a fixed clock: exact counts for a known
dataset, scope, anonymity, the chart, /digest through the engine, and exactly-once
queueing with two schedulers running at the same time."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select, update

from bot.config import Settings
from db.digest import build_digest, outermost, supervisor_recipients
from db.models import Identity, Outbox, Role, RoleGrant, Unit
from db.session import Database
from handlers.digest import body, chart_spec, digest_messages, heading, render_chart
from handlers.i18n import local_today, set_language
from handlers.render import to_plain
from handlers.types import message_from_json
from scheduler.digest import digest_key, send_digests
from scheduler.jobs import SchedulerService
from tests.chart_pixels import GREEN, RED, bars
from tests.integration.digest_helpers import NOW, TODAY, Dataset, make_dataset
from tests.integration.tip_helpers import identity_id, make_engine, send_tip, staff
from tests.support import Clock, Person

PNG = b"\x89PNG\r\n\x1a\n"


async def unit(db: Database, unit_id: int) -> Unit:
    async with db.sessions() as s:
        found = await s.get(Unit, unit_id)
    assert found is not None
    return found


async def digest_of(db: Database, ds: Dataset, code: str, now: dt.datetime = NOW):  # type: ignore[no-untyped-def]
    root = await unit(db, ds.world.units[code])
    async with db.sessions() as s:
        return await build_digest(s, root, now, local_today(now))


async def digest_rows(db: Database) -> list[Outbox]:
    async with db.sessions() as s:
        stmt = select(Outbox).where(Outbox.dedup_key.startswith("digest:")).order_by(Outbox.id)
        return list((await s.execute(stmt)).scalars().all())


def plain(messages: list) -> str:  # type: ignore[type-arg]
    return "\n".join(to_plain(m.text) for m in messages)


async def test_province_digest_has_the_exact_counts(db: Database) -> None:
    ds = await make_dataset(db)
    d = await digest_of(db, ds, "nghe-an")
    assert d.today == TODAY
    assert d.new_tips_total == 3
    assert sorted((t.category, t.status, t.count) for t in d.new_tips) == [
        ("drugs", "closed", 1),
        ("drugs", "new", 1),
        ("other", "new", 1),
    ]
    assert d.stale_total == 2
    assert [t.tip_id for t in d.stale] == [ds.tips[5], ds.tips[4]]  # oldest first
    # The corrected check-in (7) does not count; its correction (8) does.
    assert (d.checkins_total, d.checkin_units) == (3, 3)
    assert sorted(c.value for c in d.checkins if c.value is not None) == [5, 8]
    assert len(d.rows) == 6

    set_language("en")
    text = to_plain(heading(d) + "\n" + body(d, "en"))
    assert "Daily digest: Tỉnh Nghệ An" in text
    assert "07:00 05/05/2025, covering the last 24 hours." in text
    assert (
        "New tips: 3 · not acknowledged for over 24 h: 2 · check-ins: 3 · overdue: 2 · "
        "due within 7 days: 1"
    ) in text
    assert "• Drugs: 2 (new 1, closed 1)" in text and "• Other: 1 (new 1)" in text
    assert "Tips not acknowledged for over 24 hours: 2" in text
    assert f"#{ds.tips[5]} Fire hazard · Xã Hưng Thôn 01 · received 05:00 03/05/2025" in text
    assert "Check-ins in the last 24 hours: 3 from 3 units" in text
    assert "• Phường Nghi Hương · Security cameras: 8/20" in text
    assert "Overdue: 2" in text and "Due within 7 days: 1" in text
    assert "• Xã Hưng Thôn 01 · Peak plan · deadline 20/04/2025 (15 days overdue)" in text
    assert "• Phường Nghi Hương · Peak plan · deadline 08/05/2025 (3 days left)" in text
    # Progress per task, laggards first and named.
    assert "Peak plan: 1/3 done · 33% of target, 1 overdue" in text
    assert "Behind: Xã Hưng Thôn 01 (0%), Phường Nghi Hương (0%)" in text
    assert "Security cameras: 1/3 done · 60% of target, 1 overdue" in text
    assert "Behind: Phường Bến Thủy (40%), Phường Nghi Hương (40%)" in text
    assert text.index("Peak plan: 1/3") < text.index("Security cameras: 1/3")


async def test_digest_in_vietnamese(db: Database) -> None:
    ds = await make_dataset(db)
    d = await digest_of(db, ds, "vinh")
    set_language("vi")
    try:
        text = plain(await digest_messages([d], chart=False))
    finally:
        set_language("en")
    assert "Bản tin hằng ngày: Thành phố Vinh" in text
    assert "Tin báo mới trong 24 giờ qua: 2" in text
    assert "Ma túy: 2 (mới 1, đã kết thúc 1)" in text
    assert "Quá hạn: 1" in text


async def test_a_district_digest_shows_nothing_of_another_district(db: Database) -> None:
    ds = await make_dataset(db)
    d = await digest_of(db, ds, "vinh")
    assert d.new_tips_total == 2 and d.stale_total == 1
    assert [t.tip_id for t in d.stale] == [ds.tips[4]]
    assert (d.checkins_total, d.checkin_units) == (2, 2)
    assert {r.unit_code for r in d.rows} == {"nghi-huong", "ben-thuy"}
    set_language("en")
    messages = await digest_messages([d])
    text = plain(messages)
    for elsewhere in ("Nghi Thạch", "Nghi Lộc", "Hưng Thôn", "Hưng Nguyên", "Other", "Fire"):
        assert elsewhere not in text, elsewhere
    for number in (3, 5):
        assert f"#{ds.tips[number]} " not in text
    spec = chart_spec(d, "en")
    assert spec is not None
    assert [b.label for b in spec.bars] == ["Phường Bến Thủy", "Phường Nghi Hương"]


async def test_digest_message_is_a_chart_photo_with_the_heading_as_caption(db: Database) -> None:
    ds = await make_dataset(db)
    d = await digest_of(db, ds, "nghe-an")
    set_language("en")
    messages = await digest_messages([d])
    first, rest = messages[0], messages[1:]
    assert first.image is not None and first.image.startswith(PNG)
    assert len(to_plain(first.text)) <= 1000  # one phone screen, and a Telegram caption
    summary = to_plain(first.text)
    assert summary.startswith("📋 Daily digest: Tỉnh Nghệ An")
    # What needs action comes first: unacknowledged tips, overdue work, lagging units.
    stale = summary.index("Tips not acknowledged for over 24 hours: 2")
    overdue = summary.index("Overdue: 2")
    units = summary.index("• Huyện Hưng Nguyên: 0% of target, 0/1 done, 1 overdue")
    assert stale < overdue < units
    assert "• Thành phố Vinh: 45% of target, 1/4 done, 1 overdue" in summary
    assert "Nghi Lộc" not in summary, "a unit with everything done needs no action"
    assert [c.id for c in first.choices] == ["m:tip_inbox", f"pg:u:{d.root.id}"]
    assert rest and all(m.image is None and len(to_plain(m.text)) <= 4096 for m in rest)
    spec = chart_spec(d, "en")
    assert spec is not None
    # Children of the province, laggards first, by share of target: Hưng Nguyên (overdue,
    # 0) on top; Vinh (overdue) at (8/20 + 0 + 4/10 + 1) / 4 = 45%, not 1 of 4 done = 25%.
    assert [(b.label, round(b.percent)) for b in spec.bars] == [
        ("Huyện Hưng Nguyên", 0),
        ("Thành phố Vinh", 45),
        ("Huyện Nghi Lộc", 100),
    ]
    # The photo: of the 676 px bar, none for Hưng Nguyên, 45% (304 px) in red for Vinh,
    # all of it in green for Nghi Lộc.
    drawn = bars(first.image)
    assert [(b.filled, b.colour) for b in drawn] == [(0, None), (304, RED), (676, GREEN)]
    assert {b.track for b in drawn} == {676}
    # A commune has no children: its chart is per task.
    commune = await digest_of(db, ds, "nghi-huong")
    task_chart = chart_spec(commune, "en")
    assert task_chart is not None and "by task" in task_chart.title
    assert {b.label for b in task_chart.bars} == {"Security cameras", "Peak plan"}


async def test_a_long_digest_is_split_to_telegram_limits(db: Database) -> None:
    ds = await make_dataset(db)
    d = await digest_of(db, ds, "nghe-an")
    # Many tasks with long titles: the text runs past 4096 characters.
    many = [
        replace(r, task_id=1000 + i, title_en=f"Task {i:03d} " + "x" * 150)
        for i, r in enumerate(d.rows * 10)
    ]
    set_language("en")
    messages = await digest_messages([replace(d, rows=many)], chart=False)
    assert len(messages) >= 3
    assert all(len(to_plain(m.text)) <= 4096 for m in messages)
    assert "Task 059" in plain(messages)


async def test_nothing_identifies_a_reporter_in_the_digest(db: Database) -> None:
    ds = await make_dataset(db)
    clock = Clock(NOW - dt.timedelta(hours=1))
    engine = make_engine(db, clock)
    anonymous = Person(engine, "citizen-anon-4711", name="Hidden Reporter Alpha")
    identified = Person(engine, "citizen-named-4712", name="Named Reporter Beta")
    await send_tip(anonymous, text="Drugs sold at the market gate.")
    await send_tip(identified, category="crime", text="A theft.", phone="+84987654321")
    secrets = [
        "Hidden Reporter Alpha",
        "citizen-anon-4711",
        "Named Reporter Beta",
        "citizen-named-4712",
        "84987654321",
        "Drugs sold at the market gate",
        "A theft",
    ]
    clock.now = NOW
    for who, tips in (("s-tinh", 5), ("s-vinh", 4)):
        person = staff(engine, who)
        await person.say("/digest")
        text = plain(person.last)
        assert f"New tips: {tips} ·" in text, text
        for secret in secrets:
            assert secret not in text, (who, secret)
            for m in person.last:
                assert secret.encode() not in (m.image or b"")
    # The reporters' identity ids appear nowhere in the queued digests either.
    await send_digests(db, Settings(), NOW)
    payloads = " ".join(str(r.payload) for r in await digest_rows(db))
    for secret in secrets:
        assert secret not in payloads
    reporter_ids = {await identity_id(db, p.user_id) for p in (anonymous, identified)}
    assert not {r.identity_id for r in await digest_rows(db)} & reporter_ids
    assert ds.tips


async def test_digest_command_through_the_engine(db: Database) -> None:
    ds = await make_dataset(db)
    engine = make_engine(db, Clock(NOW))
    supervisor = staff(engine, "s-vinh")
    await supervisor.say("/digest")
    assert supervisor.last[0].image is not None and supervisor.last[0].image.startswith(PNG)
    assert "Daily digest: Thành phố Vinh" in supervisor.text
    assert "New tips: 2 · not acknowledged for over 24 h: 1 · check-ins: 2" in supervisor.text
    # The menu offers it to supervisors, and the button does the same.
    await supervisor.say("/menu")
    assert "m:digest" in supervisor.choices and "m:export" in supervisor.choices
    await supervisor.press("m:digest")
    assert "Daily digest: Thành phố Vinh" in supervisor.text
    # A unit below, by code; one outside the area is refused.
    await supervisor.say("/digest ben-thuy")
    assert "Daily digest: Phường Bến Thủy" in supervisor.text
    await supervisor.say("/digest nghi-thach")
    assert "outside your area" in supervisor.text and "Daily digest" not in supervisor.text
    # Officers and citizens get a hint instead.
    officer = staff(engine, "o-nh")
    await officer.say("/digest")
    assert "for supervisors" in officer.text and officer.last[0].image is None
    await officer.say("/menu")
    assert "m:digest" not in officer.choices
    await supervisor.say("/help")
    assert "/digest" in supervisor.text and "/export" in supervisor.text
    assert ds.tips


async def test_daily_job_queues_one_digest_per_supervisor_in_their_language(
    db: Database,
) -> None:
    ds = await make_dataset(db)
    s_tinh = await identity_id(db, "s-tinh")
    async with db.sessions() as s:
        await s.execute(update(Identity).where(Identity.id == s_tinh).values(language="vi"))
        await s.commit()
    assert await send_digests(db, Settings(), NOW) == 2
    rows = await digest_rows(db)
    assert sorted(r.dedup_key for r in rows) == sorted(
        [digest_key(s_tinh, TODAY), digest_key(await identity_id(db, "s-vinh"), TODAY)]
    )
    by_identity = {
        r.identity_id: [message_from_json(m) for m in r.payload["messages"]] for r in rows
    }
    province = by_identity[s_tinh]
    assert province[0].image is not None and province[0].image.startswith(PNG)
    assert "Bản tin hằng ngày: Tỉnh Nghệ An" in province[0].text
    vinh = by_identity[await identity_id(db, "s-vinh")]
    assert "Daily digest: Thành phố Vinh" in vinh[0].text
    assert all(not r.urgent and r.not_before == NOW for r in rows)
    # Again the same day: nothing; the next morning: a new one each.
    assert await send_digests(db, Settings(), NOW + dt.timedelta(hours=5)) == 0
    assert await send_digests(db, Settings(), NOW + dt.timedelta(days=1)) == 2
    assert len(await digest_rows(db)) == 4
    assert ds.tips


async def test_two_schedulers_at_once_queue_each_digest_once(db: Database, pg_url: str) -> None:
    await make_dataset(db)
    other = Database(pg_url, pool_size=2)
    try:
        queued = await asyncio.gather(
            send_digests(db, Settings(), NOW),
            send_digests(other, Settings(), NOW),
            send_digests(db, Settings(), NOW + dt.timedelta(minutes=1)),
        )
    finally:
        await other.dispose()
    rows = await digest_rows(db)
    assert sum(queued) == 2 == len(rows)
    assert len({r.dedup_key for r in rows}) == 2


async def test_who_gets_a_digest(db: Database) -> None:
    ds = await make_dataset(db)
    engine = make_engine(db, Clock(NOW))
    # s-vinh also supervises a ward inside Vinh: still one digest, of Vinh.
    from db.members import grant_role

    async with db.sessions() as s:
        await grant_role(
            s,
            ds.world.members["s-vinh"],
            ds.world.units["ben-thuy"],
            Role.SUPERVISOR,
            granted_by=None,
        )
        await s.execute(
            update(Identity)
            .where(Identity.id == await identity_id(db, "s-tinh"))
            .values(blocked_at=NOW)
        )
        await s.commit()
    async with db.sessions() as s:
        recipients = await supervisor_recipients(s)
    assert [(r.identity.external_id, [u.code for u in r.roots]) for r in recipients] == [
        ("s-vinh", ["vinh"])
    ]
    assert await send_digests(db, Settings(), NOW) == 1
    await staff(engine, "s-vinh").say("/digest")  # one digest, not two
    assert outermost([]) == []


async def test_scheduler_service_fires_the_digest_at_digest_hour(db: Database) -> None:
    service = SchedulerService(db, Settings(digest_hour=6), {}, send=False)
    service.add_jobs()
    job = service.scheduler.get_job("daily-digest")
    assert job is not None
    fields = {f.name: str(f) for f in job.trigger.fields}
    assert (fields["hour"], fields["minute"]) == ("6", "0")
    assert str(job.trigger.timezone) == "Asia/Ho_Chi_Minh"


@pytest.mark.parametrize(
    ("local_hour", "catches_up"), [(5, False), (6, True), (9, True), (10, False), (22, False)]
)
async def test_a_late_start_catches_up_on_the_digest_the_same_morning(
    db: Database, local_hour: int, catches_up: bool
) -> None:
    now = dt.datetime(2026, 11, 26, local_hour, 30, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    service = SchedulerService(
        db, Settings(digest_hour=6), {}, clock=lambda: now.astimezone(dt.UTC), send=False
    )
    service.add_jobs()
    service.scheduler.start(paused=True)  # computes every job's next run time; fires none
    try:
        job = service.scheduler.get_job("daily-digest")
        assert job is not None
        real_now = dt.datetime.now(ZoneInfo("Asia/Ho_Chi_Minh"))
        if catches_up:  # within seconds of starting
            assert dt.timedelta(0) <= job.next_run_time - real_now < dt.timedelta(seconds=30)
        else:  # the next 06:00 of the real clock (APScheduler's), today or tomorrow
            six = real_now.replace(hour=6, minute=0, second=0, microsecond=0)
            expected = six if real_now < six else six + dt.timedelta(days=1)
            assert job.next_run_time == expected
    finally:
        service.scheduler.shutdown(wait=False)


async def test_the_daily_job_builds_each_unit_once_with_its_chart(db: Database) -> None:
    """Three supervisors of two units: two digests built, and the queued chart is the
    very PNG drawn here for the same digest."""
    ds = await make_dataset(db)
    async with db.sessions() as s:
        s.add(
            RoleGrant(
                member_id=ds.world.members["o-nh"],
                unit_id=ds.world.units["nghe-an"],
                role=Role.SUPERVISOR.value,
            )
        )
        await s.commit()
    progress_queries: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if "LATERAL" in statement:
            progress_queries.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        assert await send_digests(db, Settings(), NOW) == 3
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)
    assert len(progress_queries) == 2  # the province and Vinh, each once
    rows = await digest_rows(db)
    province_rows = [
        r
        for r in rows
        if r.identity_id in {await identity_id(db, "s-tinh"), await identity_id(db, "o-nh")}
    ]
    assert len(province_rows) == 2
    images = [message_from_json(r.payload["messages"][0]).image for r in province_rows]
    digest = await digest_of(db, ds, "nghe-an")
    set_language("en")
    spec = chart_spec(digest, "en")
    assert spec is not None
    drawn_here = render_chart(spec)
    assert drawn_here.startswith(PNG)
    assert images == [drawn_here, drawn_here]
