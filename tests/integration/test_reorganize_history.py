"""History after a reorganisation: a successor's progress, digest and export include (and
name) its predecessors; a closed unit's history still opens; nothing is rewritten."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from db.digest import build_digest
from db.models import Role, TipStatus, Unit
from db.session import Database
from db.units import by_code
from handlers.digest import heading
from handlers.export import write_export
from handlers.i18n import local_today
from tests.integration.import_support import in_english
from tests.integration.plan_fixtures import enrol, make_engine, make_world
from tests.integration.reorg_support import AFTER, MERGE_ALL, add_tip, rows, run_mapping, write
from tests.integration.test_reorganize import work
from tests.support import Clock

FORMER = "including former Thị trấn Nam Đàn, Xã Nam Anh, Xã Nam Bình and Xã Nam Cát"


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    yield from in_english()


async def unit(db: Database, code: str) -> Unit:
    async with db.sessions() as s:
        found = await by_code(s, code)
    assert found is not None
    return found


async def test_the_successors_progress_names_and_opens_its_predecessors(
    db: Database, tmp_path: Path
) -> None:
    world = await make_world(db)
    await work(db, world)
    await run_mapping(db, write(tmp_path, MERGE_ALL))
    engine = make_engine(db, Clock(AFTER))
    moi = await unit(db, "xa-moi")
    chief = await enrol(db, engine, "chief", moi, Role.SUPERVISOR)
    await chief.say("/progress")
    assert f"({FORMER})" in chief.text
    assert "Former units, as they stood on their last day" in chief.text
    # xa-a: cameras 8/20 and training (moved on), drug-free file done: 1 of 3 done.
    assert "Xã Nam Anh (until 30/06/2025): 1/3 assignments done (33%)" in chief.text
    # A predecessor lies outside the successor's subtree, yet its history opens.
    await chief.press(chief.choice_labelled("Xã Nam Anh (until"))
    assert "Progress: Xã Nam Anh" in chief.text
    assert "Closed on 01/07/2025; merged into Xã Nam Mới." in chief.text
    assert "As of 30/06/2025." in chief.text
    assert "Install cameras" in chief.text and "Drug-free file" in chief.text
    # A unit outside (not a predecessor) stays refused.
    await chief.press(f"pg:u:{world.e.id}")
    assert "outside your area" in chief.text


async def test_a_district_that_ended_stays_visible_under_the_province(
    db: Database, tmp_path: Path
) -> None:
    world = await make_world(db)
    await work(db, world)
    await run_mapping(db, write(tmp_path, MERGE_ALL))
    engine = make_engine(db, Clock(AFTER))
    boss = await enrol(db, engine, "boss", world.province, Role.SUPERVISOR)
    await boss.say("/progress")
    # Nam Đàn's subtree on 30/06: 7 assignments (4 communes' and the district's report),
    # 1 done (xa-a's drug-free file).
    assert "Huyện Nam Đàn (until 30/06/2025): 1/7 assignments done (14%)" in boss.text
    await boss.press(boss.choice_labelled("Huyện Nam Đàn (until"))
    assert "Closed on 01/07/2025, without a successor." in boss.text
    assert "Yearly report" in boss.text


async def test_the_successors_digest_counts_its_predecessors_tips_and_names_them(
    db: Database, tmp_path: Path
) -> None:
    world = await make_world(db)
    late = dt.datetime(2025, 6, 30, 16, 0, tzinfo=dt.UTC)  # 23:00 local
    await add_tip(db, world.b, TipStatus.CLOSED, at=late)
    await run_mapping(db, write(tmp_path, MERGE_ALL))
    # The closed tip stays with Xã Nam Bình ...
    assert await rows(db, "SELECT u.code FROM tip t JOIN unit u ON u.id = t.unit_id") == [("xa-b",)]
    # ... and the next morning's digest of Xã Nam Mới counts it and names the former units.
    now = dt.datetime(2025, 7, 1, 0, 0, tzinfo=dt.UTC)  # 07:00 local
    async with db.sessions() as s:
        moi = await by_code(s, "xa-moi")
        assert moi is not None
        digest = await build_digest(s, moi, now, local_today(now))
    assert digest.new_tips_total == 1
    text = heading(digest)
    assert FORMER in text


async def test_the_successors_export_includes_its_predecessors(
    db: Database, tmp_path: Path
) -> None:
    world = await make_world(db)
    await work(db, world)
    await add_tip(db, world.a, TipStatus.CLOSED)
    await run_mapping(db, write(tmp_path, MERGE_ALL))
    moi = await unit(db, "xa-moi")
    out = io.BytesIO()
    async with db.sessions() as s:
        counts = await write_export(
            s, moi, out, first=dt.date(2025, 1, 1), last=dt.date(2025, 12, 31), fmt="csv", now=AFTER
        )
    # 3 owed by Xã Nam Mới, 6 closed ones of Xã Nam Anh and Xã Nam Bình; the two
    # check-ins made in Xã Nam Anh; its closed tip.
    assert (counts.progress, counts.checkins, counts.tips) == (9, 2, 1)
    archive = zipfile.ZipFile(out)
    checkins = list(csv.reader(io.StringIO(archive.read("checkins.csv").decode("utf-8-sig"))))
    assert {r[2] for r in checkins[1:]} == {"xa-a"}
    progress = list(csv.reader(io.StringIO(archive.read("progress.csv").decode("utf-8-sig"))))
    cams_a = next(r for r in progress[1:] if r[0] == "xa-a" and r[2] == "Install cameras")
    assert cams_a[4] == "8" and cams_a[6] == "in progress"
