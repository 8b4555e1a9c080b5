"""Exports on real PostgreSQL: /export through the engine (scope, file, audit), the
workbook read back with openpyxl (sheets, Vietnamese headers, dd/MM/yyyy dates, no
reporter anywhere, formulas kept as text), CSV in a ZIP, and ``antt export`` to a file."""

from __future__ import annotations

import asyncio
import contextvars
import csv
import datetime as dt
import io
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update

from bot import cli
from bot.commands.export import TextProgress
from bot.config import Settings, get_settings
from db.models import Audit, Identity, Unit
from db.session import Database
from handlers.engine import Engine
from handlers.export import parse_args, parse_day, write_export
from handlers.i18n import set_language
from tests.integration.digest_helpers import NOW, Dataset, make_dataset
from tests.integration.test_cli import _logging_restored
from tests.integration.tip_helpers import make_engine, send_tip, staff
from tests.support import Clock, Person

VI_SHEETS = ["Tiến độ", "Báo cáo tiến độ", "Tin báo"]
SECRETS = (
    "Hidden Reporter Alpha",
    "citizen-anon-4711",
    "Named Reporter Beta",
    "citizen-named-4712",
    "84987654321",
)


async def speak_vietnamese(db: Database, user_id: str) -> Person:
    async with db.sessions() as s:
        await s.execute(
            update(Identity).where(Identity.external_id == user_id).values(language="vi")
        )
        await s.commit()
    return Person(make_engine(db, Clock(NOW)), user_id, language_code="vi")


async def with_reporters(db: Database) -> Dataset:
    """The dataset plus two tips sent through the tip flow: one anonymous, one with a phone."""
    ds = await make_dataset(db)
    engine = make_engine(db, Clock(NOW - dt.timedelta(hours=1)))
    await send_tip(Person(engine, "citizen-anon-4711", name="Hidden Reporter Alpha"))
    await send_tip(
        Person(engine, "citizen-named-4712", name="Named Reporter Beta"),
        category="crime",
        text="Someone =1+1 stole a motorbike.",
        phone="+84987654321",
    )
    return ds


def cells(book: Any) -> Iterator[Any]:
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            yield from row


async def audits(db: Database) -> list[Audit]:
    async with db.sessions() as s:
        stmt = select(Audit).where(Audit.action == "export").order_by(Audit.id)
        return list((await s.execute(stmt)).scalars().all())


async def test_export_command_sends_the_workbook_of_ones_area(db: Database) -> None:
    ds = await with_reporters(db)
    supervisor = await speak_vietnamese(db, "s-vinh")
    await supervisor.say("/export")
    [message] = supervisor.last
    assert message.document is not None and message.image is None
    assert message.document_name == "antt-vinh-20250406-20250505.xlsx"
    assert "Thành phố Vinh, từ 06/04/2025 đến 05/05/2025" in message.text
    assert "4 nhiệm vụ, 5 lần báo cáo, 6 tin báo" in message.text

    book = load_workbook(io.BytesIO(message.document))
    assert book.sheetnames == VI_SHEETS
    progress, checkins, tips = book.worksheets
    assert [c.value for c in progress[1]] == [
        "Mã đơn vị",
        "Đơn vị",
        "Nhiệm vụ",
        "Chỉ tiêu",
        "Kết quả đã báo cáo",
        "Tỷ lệ đạt chỉ tiêu (%)",
        "Tình trạng",
        "Thời hạn",
        "Báo cáo gần nhất",
    ]
    assert [c.value for c in tips[1]][:3] == ["Số tin báo", "Thời điểm nhận", "Loại tin báo"]
    assert checkins["B1"].value == "Thời gian" and checkins["K1"].value == "Cán bộ báo cáo"

    # Progress: one row per assignment under Vinh, by unit then task.
    rows = [[c.value for c in row] for row in progress.iter_rows(min_row=2)]
    assert [(r[0], r[2]) for r in rows] == [
        ("nghi-huong", "Lắp camera an ninh"),
        ("nghi-huong", "Kế hoạch cao điểm"),
        ("ben-thuy", "Lắp camera an ninh"),
        ("ben-thuy", "Kế hoạch cao điểm"),
    ]
    cameras_bt = next(r for r in rows if r[0] == "ben-thuy" and r[2] == "Lắp camera an ninh")
    assert cameras_bt[3:7] == [10, 4, 40, "quá hạn"]
    assert cameras_bt[7] == dt.datetime(2025, 5, 1)
    deadline = progress.cell(row=2, column=8)
    assert deadline.is_date and deadline.number_format == "DD/MM/YYYY"

    # Check-ins: local times, dd/MM/yyyy HH:mm; the correction names what it corrects.
    times = [row[1] for row in checkins.iter_rows(min_row=2)]
    assert all(c.is_date and c.number_format == "DD/MM/YYYY HH:MM" for c in times)
    assert [c.value for c in times][0] == dt.datetime(2025, 5, 2, 7, 0)  # 00:00 UTC + 7
    correction = next(r for r in checkins.iter_rows(min_row=2) if r[11].value is not None)
    assert correction[6].value == 8
    note = correction[9]
    assert note.value == '=HYPERLINK("http://evil.example")' and note.data_type == "s"

    # Tips: only Vinh's, with no trace of either reporter.
    tip_rows = [[c.value for c in row] for row in tips.iter_rows(min_row=2)]
    assert {r[3] for r in tip_rows} == {"nghi-huong", "ben-thuy"}
    assert ds.tips[3] not in {r[0] for r in tip_rows} and ds.tips[5] not in {r[0] for r in tip_rows}
    assert {r[11] for r in tip_rows} == {"giấu tên", "có để lại liên hệ"}
    motorbike = next(r for r in tip_rows if "motorbike" in (r[12] or ""))
    assert motorbike[12] == "Someone =1+1 stole a motorbike."
    for cell in cells(book):
        for secret in SECRETS:
            assert secret not in str(cell.value or ""), (cell.coordinate, secret)

    [row] = await audits(db)
    assert row.actor_member_id == ds.world.members["s-vinh"]
    assert row.object_id == str(ds.world.units["vinh"])
    assert row.data["rows"] == {"progress": 4, "checkins": 5, "tips": 6}
    assert (row.data["from"], row.data["to"], row.data["format"]) == (
        "2025-04-06",
        "2025-05-05",
        "xlsx",
    )


async def test_export_scope_days_and_refusals(db: Database) -> None:
    ds = await make_dataset(db)
    engine = make_engine(db, Clock(NOW))
    supervisor = staff(engine, "s-vinh")
    await supervisor.say("/export ben-thuy 05/05/2025 05/05/2025")
    [message] = supervisor.last
    assert message.document_name == "antt-ben-thuy-20250505-20250505.xlsx"
    book = load_workbook(io.BytesIO(message.document or b""))
    assert book.sheetnames == ["Progress", "Check-ins", "Tips"]  # the person's language
    assert book["Check-ins"].max_row == 2  # header + the "done" at 02:00 on 05/05
    assert book["Tips"].max_row == 2  # header + tip 2
    await supervisor.say("/export nghi-thach")
    assert "outside your area" in supervisor.text and supervisor.last[-1].document is None
    await supervisor.say("/export vinh 31/02/2025")
    assert "/export" in supervisor.text and supervisor.last[0].document is None
    await supervisor.say("/export vinh 05/05/2025 01/05/2025")
    assert "first day is after the last day" in supervisor.text
    officer = staff(engine, "o-nh")
    await officer.say("/export")
    assert "for supervisors" in officer.text
    await officer.press(f"ex:u:{ds.world.units['nghi-huong']}")
    assert "for supervisors" in officer.text and officer.last[0].document is None
    # A forged button for a unit outside the area does nothing either.
    await supervisor.press(f"ex:u:{ds.world.units['nghi-thach']}")
    assert supervisor.last[0].document is None
    assert len(await audits(db)) == 1


async def test_a_supervisor_of_two_areas_chooses_and_big_exports_are_refused(
    db: Database,
) -> None:
    ds = await make_dataset(db)
    from db.members import grant_role
    from db.models import Role

    async with db.sessions() as s:
        await grant_role(
            s,
            ds.world.members["s-vinh"],
            ds.world.units["nghi-loc"],
            Role.SUPERVISOR,
            granted_by=None,
        )
        await s.commit()
    engine = make_engine(db, Clock(NOW))
    supervisor = staff(engine, "s-vinh")
    await supervisor.say("/export")
    assert sorted(supervisor.choices) == sorted(
        f"ex:u:{ds.world.units[c]}" for c in ("vinh", "nghi-loc")
    )
    await supervisor.press(f"ex:u:{ds.world.units['nghi-loc']}")
    assert supervisor.last[0].document_name == "antt-nghi-loc-20250406-20250505.xlsx"

    strict = Engine(db, Settings(export_chat_max_rows=5), clock=Clock(NOW))
    small = Person(strict, "s-vinh", language_code="en")
    await small.say("/export vinh")
    assert "13 rows, more than 5" in small.text and small.last[0].document is None


async def test_csv_export_is_a_zip_of_one_csv_per_sheet(db: Database) -> None:
    ds = await with_reporters(db)
    async with db.sessions() as s:
        vinh = await s.get(Unit, ds.world.units["vinh"])
        assert vinh is not None
        out = io.BytesIO()
        set_language("vi")
        try:
            counts = await write_export(
                s,
                vinh,
                out,
                first=dt.date(2025, 5, 1),
                last=dt.date(2025, 5, 5),
                fmt="csv",
                now=NOW,
            )
        finally:
            set_language("en")
    assert (counts.progress, counts.checkins, counts.tips) == (4, 5, 6)
    archive = zipfile.ZipFile(out)
    assert archive.namelist() == ["progress.csv", "checkins.csv", "tips.csv"]
    raw = archive.read("checkins.csv")
    assert raw.startswith("\ufeff".encode())  # Excel reads the Vietnamese as UTF-8
    checkins = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert checkins[0][:3] == ["Số báo cáo", "Thời gian", "Mã đơn vị"]
    assert [r[1] for r in checkins[1:]] == [
        "02/05/2025 07:00",
        "04/05/2025 01:00",
        "05/05/2025 02:00",
        "05/05/2025 04:00",
        "05/05/2025 05:00",
    ]
    assert '\'=HYPERLINK("http://evil.example")' in [r[9] for r in checkins[1:]]
    progress = list(csv.reader(io.StringIO(archive.read("progress.csv").decode("utf-8-sig"))))
    assert progress[0][0] == "Mã đơn vị"
    assert {r[7] for r in progress[1:]} == {"30/06/2025", "08/05/2025", "01/05/2025", "30/04/2025"}
    text = b"".join(archive.read(n) for n in archive.namelist()).decode("utf-8-sig")
    for secret in SECRETS:
        assert secret not in text
    assert "'Someone" not in text and "Someone =1+1 stole a motorbike." in text


def test_parsing_days_and_arguments() -> None:
    assert parse_day("05/05/2025") == parse_day("2025-05-05") == dt.date(2025, 5, 5)
    assert parse_day("5-5-2025") == dt.date(2025, 5, 5)
    with pytest.raises(ValueError):
        parse_day("2025/13/01")
    assert parse_args("") == (None, None, None)
    assert parse_args("vinh 01/05/2025") == ("vinh", dt.date(2025, 5, 1), None)
    assert parse_args("01/05/2025 05/05/2025 vinh") == (
        "vinh",
        dt.date(2025, 5, 1),
        dt.date(2025, 5, 5),
    )
    with pytest.raises(ValueError):
        parse_args("vinh nghi-loc")
    with pytest.raises(ValueError):
        parse_args("01/05/2025 02/05/2025 03/05/2025")


def test_progress_bar_only_for_large_exports() -> None:
    set_language("en")
    small = io.StringIO()
    bar = TextProgress(small, min_total=100)
    for i in range(1, 51):
        bar(i, 50)
    bar.close()
    assert small.getvalue() == ""
    big = io.StringIO()
    bar = TextProgress(big, min_total=100)
    for i in range(1, 201):
        bar(i, 200)
    bar.close()
    shown = big.getvalue()
    assert shown.count("\r") == 101  # 0% to 100%: redrawn when the percent moves, not per row
    assert shown.endswith("[##############################] 100%  200/200 rows\n")
    assert "[###############---------------]  50%  100/200 rows" in shown


# --- antt export -----------------------------------------------------------------------


@pytest.fixture
def cli_env(db: Database, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ANTT_DATABASE_URL", pg_url)
    monkeypatch.setenv("ANTT_DEFAULT_LANGUAGE", "vi")
    get_settings.cache_clear()
    with _logging_restored():
        yield
    get_settings.cache_clear()


async def antt(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``antt ARGS`` in-process, in a thread (it runs its own event loop)."""
    capsys.readouterr()
    context = contextvars.copy_context()
    code = await asyncio.to_thread(context.run, cli.main, list(args))
    out, err = capsys.readouterr()
    return code, out, err


async def test_cli_export_writes_the_file_and_an_audit_row(
    db: Database, cli_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await with_reporters(db)
    target = tmp_path / "vinh.xlsx"
    code, out, err = await antt(
        capsys, "export", "--unit", "vinh", "--from", "01/05/2025", "--to", "05/05/2025",
        "--output", str(target),
    )  # fmt: skip
    assert code == 0, err
    assert f"Đã ghi {target}: 4 nhiệm vụ, 5 lần báo cáo, 6 tin báo" in out
    assert "từ 01/05/2025 đến 05/05/2025" in out
    assert os.listdir(tmp_path) == ["vinh.xlsx"]  # the .part file was renamed
    book = load_workbook(target)
    assert book.sheetnames == VI_SHEETS
    assert book["Tin báo"].max_row == 7
    for cell in cells(book):
        for secret in SECRETS:
            assert secret not in str(cell.value or "")

    code, out, err = await antt(
        capsys, "export", "--unit", "nghe-an", "--format", "csv", "--lang", "en",
        "--from", "2025-05-05", "--to", "2025-05-05", "--output", str(tmp_path / "all.zip"),
    )  # fmt: skip
    assert code == 0, err
    assert "Wrote" in out and "6 assignments" in out
    archive = zipfile.ZipFile(tmp_path / "all.zip")
    header = archive.read("tips.csv").decode("utf-8-sig").splitlines()[0]
    assert header.startswith("Tip no.,Received,Category")

    rows = await audits(db)
    assert [(r.data["unit"], r.data["format"], r.data["via"]) for r in rows] == [
        ("vinh", "xlsx", "cli"),
        ("nghe-an", "csv", "cli"),
    ]
    assert all(r.actor_member_id is None for r in rows)

    code, out, err = await antt(capsys, "export", "--unit", "nowhere")
    assert code == 2 and "nowhere" in err
    code, out, err = await antt(capsys, "export", "--unit", "vinh", "--from", "32/01/2025")
    assert code == 2 and "--from 32/01/2025" in err
    assert len(await audits(db)) == 2
