"""The register of recognised units: CSV import and export, refusals with nothing written,
and the plan's percent targets counted over the communes remaining at the start of the
year; on real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from db.checkins import assignment_progress
from db.plan_import import SHIPPED_PLAN
from db.progress import province_progress
from db.register_csv import (
    RegisterFileError,
    export_rows,
    import_register,
    read_register_csv,
    write_csv,
)
from db.session import Database, UnitOfWork
from handlers.checkin import latest_text
from handlers.i18n import current_language, set_language
from tests.integration.import_support import import_plan, import_units, rows, scalar

TODAY = dt.date(2025, 11, 30)
HEADER = "unit_code,kind,level,decided_by,decision_no,decided_on,status,status_on,note\n"
# Twelve communes of Nam Đàn: two models since 2024, one recognised in 2023 and
# revoked in 2024 (so still to build), three recognised in 2025. Drug-free: ten
# since 2024, the last two in 2025.
REGISTER = HEADER + "".join(
    [
        "nd-01,model,district,UBND huyện Nam Đàn,101/QĐ-UBND,15/03/2024,,,\n",
        "nd-02,model,province,UBND tỉnh Nghệ An,2001/QĐ-UBND,20/11/2024,,,\n",
        "nd-03,model,district,UBND huyện Nam Đàn,77/QĐ-UBND,10/05/2023,,,\n",
        "nd-03,model,district,UBND huyện Nam Đàn,77/QĐ-UBND,10/05/2023,revoked,01/10/2024,"
        '"không duy trì, thu hồi"\n',
        "nd-04,model,district,UBND huyện Nam Đàn,210/QĐ-UBND,12/03/2025,,,\n",
        "nd-05,model,district,UBND huyện Nam Đàn,211/QĐ-UBND,12/03/2025,,,\n",
        "nd-06,model,district,UBND huyện Nam Đàn,305/QĐ-UBND,01/08/2025,,,\n",
        "nd-06,model,district,UBND huyện Nam Đàn,305/QĐ-UBND,01/08/2025,maintained,01/11/2025,\n",
        *(
            f"nd-{n:02d},drug_free,,UBND tỉnh Nghệ An,9{n:02d}/QĐ-UBND,01/06/2024,,,\n"
            for n in range(1, 11)
        ),
        "nd-11,drug_free,,UBND tỉnh Nghệ An,1511/QĐ-UBND,02/09/2025,,,\n",
        "nd-12,drug_free,,UBND tỉnh Nghệ An,1512/QĐ-UBND,02/09/2025,,,\n",
    ]
)


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    previous = current_language()
    set_language("en")
    yield
    set_language(previous)


async def _nam_dan(db: Database, tmp_path: Path) -> None:
    await import_plan(db, SHIPPED_PLAN)
    units = tmp_path / "communes.csv"
    units.write_text(
        "code,name,kind,parent_code\n"
        + "".join(f"nd-{n:02d},Xã {n},commune,nam-dan\n" for n in range(1, 13)),
        encoding="utf-8",
    )
    await import_units(db, units)


async def _import(db: Database, path: Path) -> tuple[dict[str, int], dict[str, int]]:
    parsed = read_register_csv(path, TODAY)
    async with UnitOfWork(db) as uow:
        result = await import_register(uow.session, str(path), parsed, actor_member_id=None)
        await uow.commit()
    return result.recognitions.as_dict(), result.events.as_dict()


async def _share(db: Database, task: str) -> tuple[str, bool]:
    aid = await scalar(
        db,
        "SELECT a.id FROM assignment a JOIN task t ON t.id = a.task_id"
        " JOIN unit u ON u.id = a.unit_id WHERE t.code = :t AND u.code = 'nam-dan'",
        t=task,
    )
    async with db.sessions() as session:
        a = await assignment_progress(session, int(aid))
    assert a is not None
    return latest_text(a), a.is_done(TODAY)


async def test_import_then_the_share_of_the_remaining_communes(
    db: Database, tmp_path: Path
) -> None:
    await _nam_dan(db, tmp_path)
    path = tmp_path / "register.csv"
    path.write_text(REGISTER, encoding="utf-8")

    recognitions, events = await _import(db, path)

    assert recognitions == {"created": 18, "updated": 0, "unchanged": 0}
    assert events == {"created": 20, "updated": 0, "unchanged": 0}  # 18 + revoked + maintained
    status = dict(
        await rows(
            db,
            "SELECT u.code || ':' || r.kind, r.status FROM recognition r"
            " JOIN unit u ON u.id = r.unit_id WHERE u.code IN ('nd-03', 'nd-06')",
        )
    )
    assert status == {
        "nd-03:model": "revoked",
        "nd-06:model": "maintained",
        "nd-03:drug_free": "recognised",
        "nd-06:drug_free": "recognised",
    }
    # 12 communes, 2 models in force on 1/1/2025: 10 remain; 3 recognised since.
    assert await _share(db, "typical-communes") == (
        "3 of the 10 remaining communes (30%)",
        False,  # Nam Đàn's target is 100%
    )
    # Drug-free: 10 recognised before 2025, both remaining ones since: 100%, done.
    assert await _share(db, "drug-free-communes") == ("2 of the 2 remaining communes (100%)", True)
    async with db.sessions() as session:
        by_task = {p.code: p for p in await province_progress(session, "nam-dan", today=TODAY)}
    assert by_task["drug-free-communes"].done == 1
    assert by_task["typical-communes"].done == 0

    set_language("vi")
    assert (await _share(db, "typical-communes"))[0] == "3 trong số 10 đơn vị cấp xã còn lại (30%)"


async def test_export_reimports_as_no_change(db: Database, tmp_path: Path) -> None:
    await _nam_dan(db, tmp_path)
    path = tmp_path / "register.csv"
    path.write_text(REGISTER, encoding="utf-8")
    await _import(db, path)
    async with db.sessions() as session:
        lines = await export_rows(session)
    assert lines[0] == HEADER.strip().split(",")
    assert len(lines) == 1 + 20
    assert [
        "nd-03",
        "model",
        "district",
        "UBND huyện Nam Đàn",
        "77/QĐ-UBND",
        "10/05/2023",
        "revoked",
        "01/10/2024",
        "không duy trì, thu hồi",
    ] in lines
    out = io.StringIO()
    write_csv(lines, out)
    exported = tmp_path / "export.csv"
    exported.write_text(out.getvalue(), encoding="utf-8-sig")

    recognitions, events = await _import(db, exported)

    assert recognitions == {"created": 0, "updated": 0, "unchanged": 0}
    assert events == {"created": 0, "updated": 0, "unchanged": 20}


async def test_bad_rows_one_line_each_and_nothing_written(db: Database, tmp_path: Path) -> None:
    await _nam_dan(db, tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        HEADER
        + "nd-01,famous,,UBND,1/QĐ,01/02/2025,,,\n"  # line 2: unknown kind
        + "nd-02,drug_free,,UBND,2/QĐ,01/12/2025,,,\n"  # line 3: in the future
        + "nd-04,drug_free,,UBND,3/QĐ,01/02/2025,,,\n"
        + "nd-04,drug_free,,UBND,3/QĐ,01/02/2025,,,\n"  # line 5: the same row again
        + "nd-05,model,,UBND,4/QĐ,01/02/2025,,,\n",  # line 6: a model needs its level
        encoding="utf-8",
    )
    with pytest.raises(RegisterFileError) as refused:
        read_register_csv(bad, TODAY)
    lines = [str(i) for i in refused.value.issues]
    assert len(lines) == 4
    assert lines[0].startswith(f"{bad}:2:2: kind: unknown recognition kind famous")
    assert lines[1] == f"{bad}:3:6: decided_on: 01/12/2025 is in the future"
    assert lines[2] == f"{bad}:5: the same row as line 4"
    assert lines[3] == f"{bad}:6:3: level: a model recognition needs its level"

    unknown = tmp_path / "unknown.csv"
    unknown.write_text(
        HEADER
        + "nd-01,drug_free,,UBND,5/QĐ,01/02/2025,,,\n"
        + "nowhere,drug_free,,UBND,6/QĐ,01/02/2025,,,\n",
        encoding="utf-8",
    )
    with pytest.raises(RegisterFileError) as refused:
        await _import(db, unknown)
    assert [str(i) for i in refused.value.issues] == [
        f"{unknown}:3: unit_code: unknown unit nowhere"
    ]
    assert await scalar(db, "SELECT count(*) FROM recognition") == 0
    assert await scalar(db, "SELECT count(*) FROM recognition_event") == 0
