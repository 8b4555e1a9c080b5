"""Abuse limits: questions relayed to reporters, reporters' additions, locations, CSV cells,
and every rate counter purged after its window."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest
from sqlalchemy import func, select

from db import rate_limits
from db.models import RateCount, Tip, TipEvent
from db.session import Database
from handlers.export import CsvZipWriter
from handlers.triage import contact_like
from tests.integration.tip_helpers import (
    make_engine,
    make_world,
    outbox_choices,
    outbox_of,
    send_tip,
    staff,
)
from tests.support import TEST_KEY, Clock, Person


async def questions(db: Database) -> list[str]:
    async with db.sessions() as s:
        stmt = select(TipEvent.text).where(TipEvent.kind == "question").order_by(TipEvent.id)
        return [t or "" for t in (await s.execute(stmt)).scalars()]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Call me on 0912 345 678 please", ["0912 345 678"]),
        ("Send it to https://bit.ly/3xYz", ["https://bit.ly/3xYz"]),
        ("Write to @thanh_tra_bot now", ["@thanh_tra_bot"]),
        ("Open zalo.me/0912345678", ["zalo.me/0912345678"]),
        ("See congan-nghean.xyz/khai-bao", ["congan-nghean.xyz/khai-bao"]),
        ("+84 91 234 5678 is our number", ["+84 91 234 5678"]),
        ("Which street, and at what time on 05/05/2025 at 22:00?", []),
        ("Was it the blue house, number 12?", []),
        ("Email the unit at a@b", []),
    ],
)
def test_links_handles_and_phone_numbers_are_found(text: str, found: list[str]) -> None:
    assert contact_like(text) == found


async def test_a_question_with_a_link_or_number_is_confirmed_before_it_is_relayed(
    db: Database,
) -> None:
    await make_world(db)
    engine = make_engine(db)
    await send_tip(Person(engine, "rep-q", language_code="en"))
    officer = staff(engine, "o-nh")
    await officer.press("tr:ask:1")
    await officer.say("Please call 0912 345 678 or write to @helper_bot")
    assert "0912 345 678" in officer.text and "@helper_bot" in officer.text
    assert set(officer.choices) >= {"trf:asksend", "trf:askedit", "trf:cancel"}
    assert await questions(db) == [] and await outbox_of(db, "rep-q") == []
    await officer.press("trf:askedit")
    assert "Type your question" in officer.text
    await officer.say("Call https://example.vn/form")
    await officer.press("trf:asksend")
    assert "passed on" in officer.text
    assert await questions(db) == ["Call https://example.vn/form"]
    assert any(c.startswith("tpa:a:") for c in outbox_choices(await outbox_of(db, "rep-q")))
    await officer.press("tr:ask:1")
    await officer.say("Which street?")  # nothing to flag: relayed at once
    assert "passed on" in officer.text and len(await questions(db)) == 2


async def test_questions_per_tip_are_capped_for_24_hours(db: Database) -> None:
    await make_world(db)
    clock = Clock()
    engine = make_engine(db, clock, tip_questions_per_day=2)
    await send_tip(Person(engine, "rep-c", language_code="en"))
    officer, other = staff(engine, "o-nh"), staff(engine, "s-vinh")
    for who, minutes in ((officer, 0), (other, 30)):
        clock.advance(minutes=minutes)
        await who.press("tr:ask:1")
        await who.say("When?")
        assert "passed on" in who.text
    clock.advance(hours=2)
    await officer.press("tr:ask:1")
    await officer.say("And where?")
    # 2 in 24 hours; the first (09:00 local) frees a place at 09:00 the next day.
    assert "2 questions in the last 24 hours" in officer.text
    assert "09:00 06/05/2025" in officer.text
    assert await questions(db) == ["When?", "When?"]
    clock.advance(hours=22)
    await officer.press("tr:ask:1")
    await officer.say("And where?")
    assert "passed on" in officer.text and len(await questions(db)) == 3


async def test_additions_per_tip_are_capped_for_an_hour(db: Database) -> None:
    await make_world(db)
    clock = Clock()
    engine = make_engine(db, clock, tip_additions_per_hour=3)
    citizen = Person(engine, "rep-a", language_code="en")
    code = await send_tip(citizen)
    for i in range(3):
        clock.advance(minutes=5)
        await citizen.say(f"/status {code}")
        await citizen.press(next(c for c in citizen.choices if c.startswith("tpa:i:")))
        await citizen.say(f"More {i}")
        assert "It was added" in citizen.text
    clock.advance(minutes=5)
    await citizen.say(f"/status {code}")
    await citizen.press(next(c for c in citizen.choices if c.startswith("tpa:i:")))
    assert "3 additions in the last hour" in citizen.text and "after 10:05" in citizen.text
    async with db.sessions() as s:
        count = select(func.count()).where(TipEvent.kind == "reporter_info")
        assert await s.scalar(count) == 3
    officers_told = len(await outbox_of(db, "o-nh"))
    assert officers_told == 1 + 3  # the new tip, then one note per addition, no more
    clock.advance(minutes=46)  # 10:06: the first addition (09:05) is over an hour old
    await citizen.say(f"/status {code}")
    await citizen.press(next(c for c in citizen.choices if c.startswith("tpa:i:")))
    await citizen.say("One more")
    assert "It was added" in citizen.text


async def share_and_send(citizen: Person, *, exact: bool) -> None:
    await citizen.press("m:tip")
    await citizen.press("tip:cat:traffic")
    await citizen.say("Racing.")
    await citizen.press("tip:done")
    await citizen.share_location(18.645_678, 105.701_234)
    await citizen.press("tip:skip")
    await citizen.press("tip:anon")
    assert "location is attached, to about 100 m" in citizen.text
    if exact:
        await citizen.press("tip:exact")
        assert "exact location is attached" in citizen.text and "tip:rough" in citizen.choices
    await citizen.press("tip:send")
    assert "tracking code" in citizen.text


async def test_a_shared_location_is_kept_and_shown_to_about_100_m(db: Database) -> None:
    await make_world(db)
    engine = make_engine(db)
    await share_and_send(Person(engine, "rep-l", language_code="en"), exact=False)
    async with db.sessions() as s:
        assert (await s.execute(select(Tip.lat, Tip.lon))).one() == (18.646, 105.701)
    officer = staff(engine, "o-bt")
    await officer.press("tr:open:1")
    assert "18.646, 105.701" in officer.text and "about 100 m" in officer.text
    assert "18.6456" not in officer.text


async def test_the_reporter_may_choose_to_send_the_exact_location(db: Database) -> None:
    await make_world(db)
    engine = make_engine(db)
    await share_and_send(Person(engine, "rep-x", language_code="en"), exact=True)
    async with db.sessions() as s:
        assert (await s.execute(select(Tip.lat, Tip.lon))).one() == (18.645_678, 105.701_234)
    officer = staff(engine, "o-bt")
    await officer.press("tr:open:1")
    assert "18.64568, 105.70123" in officer.text and "about 100 m" not in officer.text


def test_csv_neutralises_formulas_after_leading_whitespace() -> None:
    out = io.BytesIO()
    writer = CsvZipWriter(out)
    writer.sheet("s", "s.csv", ["a", "b", "c", "d"], [10, 10, 10, 10])
    writer.row(['  =HYPERLINK("http://evil")', "\n+1+2", " plain = text", "-5 apples"])
    writer.finish()
    with zipfile.ZipFile(out) as archive:
        content = archive.read("s.csv").decode("utf-8-sig")
    assert "'  =HYPERLINK" in content and "'\n+1+2" in content
    assert "' plain" not in content and "'-5 apples" in content


async def test_every_rate_counter_is_purged_after_its_window(db: Database) -> None:
    engine = make_engine(db, secret_key=TEST_KEY, invite_lock_minutes=60)
    settings = engine.settings
    t0 = dt.datetime(2025, 5, 5, 2, 0, tzinfo=dt.UTC)
    async with db.sessions() as s:
        for kind in rate_limits.windows(settings):
            await rate_limits.hit(s, settings, kind, 7, t0)
        s.add(RateCount(key="x" * 32, kind="someone_elses_kind", window_start=t0, count=1))
        await s.commit()

    async def left(now: dt.datetime) -> set[str]:
        async with db.sessions() as s:
            await rate_limits.purge(s, settings, now)
            await s.commit()
            return set((await s.execute(select(RateCount.kind))).scalars())

    everything = {*rate_limits.windows(settings), "someone_elses_kind"}
    assert await left(t0 + dt.timedelta(minutes=64)) == everything
    # tip_submit (1 h) and the invite kinds (60 min) go 5 minutes (the bucket) after.
    assert await left(t0 + dt.timedelta(minutes=66)) == {"tip_lookup_fail", "someone_elses_kind"}
    assert await left(t0 + dt.timedelta(minutes=126)) == {"someone_elses_kind"}
    assert await left(t0 + dt.timedelta(days=1, minutes=1)) == set()
