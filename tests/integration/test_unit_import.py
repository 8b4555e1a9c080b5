"""Importing units from CSV on real PostgreSQL: good files, idempotence, coordinates,
mergers, reparenting, and bad rows refused with nothing written."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from db.plan_import import SHIPPED_PLAN
from db.session import Database
from db.unit_import import UnitFileError
from db.units import by_code, search_by_name, subtree
from tests.integration.import_support import (
    dump,
    import_plan,
    import_units,
    in_english,
    row_counts,
    rows,
    scalar,
)

BASE = """code,name,kind,parent_code,lat,lon
na,Tỉnh Nghệ An,province,,18.8,105.0
vinh,Thành phố Vinh,city,na,18.68,105.69
nghi-huong,Phường Nghi Hương,ward,vinh,18.79,105.73
cua-lo,Thị xã Cửa Lò,town,na,,
nghi-thuy,Phường Nghi Thủy,ward,cua-lo,18.81,105.72
"""


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    yield from in_english()


def write(tmp_path: Path, content: str, name: str = "units.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_text(content, encoding=encoding, newline="")
    return path


async def paths(db: Database) -> dict[str, tuple[str, int]]:
    """Each unit's path spelled with codes instead of ids, and its depth."""
    found = await rows(db, "SELECT id, code, path, depth FROM unit")
    code_of = {uid: code for uid, code, _p, _d in found}
    return {
        code: ("/" + "/".join(code_of[int(i)] for i in path.strip("/").split("/")) + "/", depth)
        for _uid, code, path, depth in found
    }


async def test_import_builds_the_tree(db: Database, tmp_path: Path) -> None:
    counts = await import_units(db, write(tmp_path, BASE))
    assert counts.as_dict() == {"created": 5, "updated": 0, "unchanged": 0}
    assert await paths(db) == {
        "na": ("/na/", 0),
        "vinh": ("/na/vinh/", 1),
        "nghi-huong": ("/na/vinh/nghi-huong/", 2),
        "cua-lo": ("/na/cua-lo/", 1),
        "nghi-thuy": ("/na/cua-lo/nghi-thuy/", 2),
    }
    coords = dict(await rows(db, "SELECT code, (lat, lon)::text FROM unit"))
    assert coords["nghi-huong"] == "(18.79,105.73)" and coords["cua-lo"] == "(,)"
    assert await scalar(db, "SELECT name_search FROM unit WHERE code = 'nghi-huong'") == (
        "phuong nghi huong"
    )


async def test_the_unit_police_phone_is_imported_and_kept_by_files_without_it(
    db: Database, tmp_path: Path
) -> None:
    with_phone = BASE.replace("lat,lon\n", "lat,lon,phone\n", 1).replace("\n", ",\n")
    with_phone = with_phone.replace("lat,lon,phone,\n", "lat,lon,phone\n")
    with_phone = with_phone.replace("18.79,105.73,\n", "18.79,105.73,+84 238 3855 113\n")
    await import_units(db, write(tmp_path, with_phone))
    phones = dict(await rows(db, "SELECT code, phone FROM unit"))
    assert phones == {
        "na": None,
        "vinh": None,
        "nghi-huong": "+84 238 3855 113",
        "cua-lo": None,
        "nghi-thuy": None,
    }
    counts = await import_units(db, write(tmp_path, BASE, "again.csv"))  # no phone column
    assert counts.as_dict()["updated"] == 0
    assert await scalar(db, "SELECT phone FROM unit WHERE code = 'nghi-huong'") == (
        "+84 238 3855 113"
    )


async def test_second_import_changes_nothing(db: Database, tmp_path: Path) -> None:
    await import_units(db, write(tmp_path, BASE))
    before = await dump(db)
    counts = await import_units(db, write(tmp_path, BASE))
    assert counts.as_dict() == {"created": 0, "updated": 0, "unchanged": 5}
    assert await dump(db) == before


async def test_bom_crlf_header_case_and_child_before_parent(db: Database, tmp_path: Path) -> None:
    lines = BASE.splitlines()
    header = " Code , NAME,kind ,parent_code,lat,lon"
    content = "\r\n".join([header, *reversed(lines[1:])]) + "\r\n"
    counts = await import_units(db, write(tmp_path, content, encoding="utf-8-sig"))
    assert counts.created == 5
    assert (await paths(db))["nghi-thuy"] == ("/na/cua-lo/nghi-thuy/", 2)
    assert await scalar(db, "SELECT name FROM unit WHERE code = 'na'") == "Tỉnh Nghệ An"


async def test_plan_and_csv_imports_do_not_undo_each_other(db: Database, tmp_path: Path) -> None:
    csv_text = (
        "code,name,kind,parent_code,lat,lon\n"
        "nghe-an,Tỉnh Nghệ An,province,,18.8,105.0\n"
        "vinh,Thành phố Vinh,city,nghe-an,18.68,105.69\n"
        "nghi-phong,Xã Nghi Phong,commune,vinh,18.8,105.7\n"
    )
    csv_file = write(tmp_path, csv_text)
    await import_units(db, csv_file)
    await import_plan(db, SHIPPED_PLAN)
    vinh = await rows(db, "SELECT lat, lon, note IS NOT NULL FROM unit WHERE code = 'vinh'")
    assert vinh == [(18.68, 105.69, True)]  # coordinates from the CSV, note from the plan
    again = await import_units(db, csv_file)
    assert again.as_dict() == {"created": 0, "updated": 0, "unchanged": 3}
    report = await import_plan(db, SHIPPED_PLAN)
    assert not report.stats.changed
    assert await scalar(db, "SELECT count(*) FROM unit") == 41


async def test_merger_closes_old_communes(db: Database, tmp_path: Path) -> None:
    content = (
        "code,name,kind,parent_code,valid_from,valid_to,replaced_by\n"
        "na,Tỉnh Nghệ An,province,,,,\n"
        "vinh,Thành phố Vinh,city,na,,,\n"
        "xa-a,Xã Hưng Đông,commune,vinh,,2025-06-30,xa-moi\n"
        "xa-b,Xã Hưng Lộc,commune,vinh,,2025-06-30,xa-moi\n"
        "xa-moi,Phường Hưng Lộc Mới,ward,vinh,2025-07-01,,\n"
    )
    counts = await import_units(db, write(tmp_path, content))
    assert counts.created == 5
    merged = await rows(
        db,
        "SELECT u.code, u.valid_to::text, r.code FROM unit u JOIN unit r ON r.id = u.replaced_by_id"
        " ORDER BY 1",
    )
    assert merged == [("xa-a", "2025-06-30", "xa-moi"), ("xa-b", "2025-06-30", "xa-moi")]
    async with db.sessions() as session:
        found = await search_by_name(session, "hung loc")
        assert [u.code for u in found] == ["xa-moi"]  # the closed commune is history only
        vinh = await by_code(session, "vinh")
        assert vinh is not None
        assert len(await subtree(session, vinh)) == 4
        assert {u.code for u in await subtree(session, vinh, active_only=True)} == {
            "vinh",
            "xa-moi",
        }
    again = await import_units(db, write(tmp_path, content))
    assert again.as_dict() == {"created": 0, "updated": 0, "unchanged": 5}
    # Undoing the merger in the file clears it in the database.
    undone = content.replace(",2025-06-30,xa-moi", ",,")
    counts = await import_units(db, write(tmp_path, undone))
    assert counts.as_dict() == {"created": 0, "updated": 2, "unchanged": 3}
    assert await scalar(db, "SELECT count(*) FROM unit WHERE replaced_by_id IS NOT NULL") == 0


async def test_reparenting_rewrites_the_whole_subtree(db: Database, tmp_path: Path) -> None:
    tree = (
        "code,name,kind,parent_code\n"
        "na,Tỉnh,province,\n"
        "d1,Huyện Một,district,na\n"
        "c1,Xã Một,commune,d1\n"
        "r1,Khối Một,residential_area,c1\n"
        "r2,Khối Hai,residential_area,c1\n"
        "d2,Huyện Hai,district,na\n"
    )
    await import_units(db, write(tmp_path, tree))
    ids_before = dict(await rows(db, "SELECT code, id FROM unit"))
    # c1 (with r1, r2) moves to d2, and d1 moves under c1: only possible in that order.
    moved = tree.replace("c1,Xã Một,commune,d1", "c1,Xã Một,commune,d2").replace(
        "d1,Huyện Một,district,na", "d1,Huyện Một,district,c1"
    )
    counts = await import_units(db, write(tmp_path, moved))
    assert counts.as_dict() == {"created": 0, "updated": 2, "unchanged": 4}
    assert await paths(db) == {
        "na": ("/na/", 0),
        "d2": ("/na/d2/", 1),
        "c1": ("/na/d2/c1/", 2),
        "r1": ("/na/d2/c1/r1/", 3),
        "r2": ("/na/d2/c1/r2/", 3),
        "d1": ("/na/d2/c1/d1/", 3),
    }
    assert dict(await rows(db, "SELECT code, id FROM unit")) == ids_before
    parents = dict(
        await rows(db, "SELECT u.code, p.code FROM unit u LEFT JOIN unit p ON p.id = u.parent_id")
    )
    assert parents == {"na": None, "d1": "c1", "c1": "d2", "r1": "c1", "r2": "c1", "d2": "na"}


# --- bad files --------------------------------------------------------------------

HEAD4 = "code,name,kind,parent_code\nna,Tỉnh Nghệ An,province,\n"
HEAD7 = "code,name,kind,parent_code,lat,lon,valid_to\nna,Tỉnh Nghệ An,province,,,,\n"
HEAD6 = "code,name,kind,parent_code,valid_to,replaced_by\nna,Tỉnh Nghệ An,province,,,\n"

# (id, content, expected location prefix after the file name, expected message)
BAD_FILES = [
    ("unknown-kind", HEAD4 + "vinh,Vinh,cty,na\n", ":3:3: kind: ", "unknown unit kind cty"),
    ("empty-name", HEAD4 + "vinh,,city,na\n", ":3:2: name: ", "must not be empty"),
    ("bad-code", HEAD4 + "thanh pho,Vinh,city,na\n", ":3:1: code: ", "not a valid code"),
    ("unknown-parent", HEAD4 + "vinh,Vinh,city,nowhere\n", ":3:4: parent_code: ", "unknown unit"),
    (
        "duplicate-code",
        HEAD4 + "vinh,Vinh,city,na\nvinh,Vinh 2,city,na\n",
        ":4:1: code: ",
        "duplicate unit code vinh (first at line 3)",
    ),
    ("bad-lat", HEAD7 + "vinh,Vinh,city,na,abc,105,\n", ":3:5: lat: ", "expected a number"),
    ("lat-range", HEAD7 + "vinh,Vinh,city,na,95,105,\n", ":3:5: lat: ", "between -90 and 90"),
    ("lat-without-lon", HEAD7 + "vinh,Vinh,city,na,18.6,,\n", ":3:6: lon: ", "give both"),
    ("bad-date", HEAD7 + "vinh,Vinh,city,na,,,2025-02-30\n", ":3:7: valid_to: ", "invalid date"),
    (
        "bad-phone",
        "code,name,kind,parent_code,phone\nna,Tỉnh,province,,\nvinh,Vinh,city,na,call us\n",
        ":3:5: phone: ",
        "not a phone number: call us",
    ),
    (
        "unknown-replacement",
        HEAD6 + "xa-a,Xã A,commune,na,2025-06-30,xa-z\n",
        ":3:6: replaced_by: ",
        "unknown unit xa-z",
    ),
    (
        "replacement-without-valid-to",
        HEAD6 + "xa-a,Xã A,commune,na,,na\n",
        ":3:6: replaced_by: ",
        "replaced_by needs valid_to",
    ),
    (
        "replaced-by-itself",
        HEAD6 + "xa-a,Xã A,commune,na,2025-06-30,xa-a\n",
        ":3:6: replaced_by: ",
        "cannot be replaced by itself",
    ),
    (
        "cycle",
        HEAD4 + "a,A,district,b\nb,B,district,a\n",
        ":3:4: parent_code: ",
        "the unit tree has a cycle: a -> b -> a",
    ),
    ("field-count", HEAD4 + "vinh,Vinh,city\n", ":3: ", "expected 4 fields, found 3"),
    ("unknown-column", "code,name,kind,parent_code,colour\n", ":1:5: colour: ", "unknown column"),
    ("missing-column", "code,name,kind\nna,Tỉnh,province\n", ":1: ", "missing column parent_code"),
    ("column-twice", "code,name,kind,parent_code,name\n", ":1:5: name: ", "given twice"),
    ("header-only", "code,name,kind,parent_code\n", ":1: ", "the file lists no units"),
    ("empty", "", ":1: ", "the file is empty"),
]


@pytest.mark.parametrize(
    ("content", "location", "message"), [pytest.param(*c[1:], id=c[0]) for c in BAD_FILES]
)
async def test_bad_file_is_refused_and_nothing_written(
    db: Database, tmp_path: Path, content: str, location: str, message: str
) -> None:
    bad = write(tmp_path, content, "bad.csv")
    with pytest.raises(UnitFileError) as first:
        await import_units(db, bad)
    assert str(first.value).startswith(f"{bad}{location}"), str(first.value)
    assert message in str(first.value)
    assert set((await row_counts(db)).values()) == {0}

    await import_units(db, write(tmp_path, BASE))
    before = await dump(db)
    with pytest.raises(UnitFileError):
        await import_units(db, bad)
    assert await dump(db) == before


async def test_not_utf8_names_the_line(db: Database, tmp_path: Path) -> None:
    bad = tmp_path / "latin1.csv"
    bad.write_bytes(HEAD4.encode() + "vinh,Thành,city,na\n".encode("latin-1"))
    with pytest.raises(UnitFileError, match=r"latin1\.csv:3: the file is not UTF-8 text"):
        await import_units(db, bad)


async def test_every_bad_row_is_reported(tmp_path: Path) -> None:
    from db.unit_import import read_unit_csv

    content = HEAD4 + "a,A,cty,na\nb,,city,na\nc,C,city,na\n"
    with pytest.raises(UnitFileError) as refused:
        read_unit_csv(write(tmp_path, content))
    assert [(i.where.line, i.where.path) for i in refused.value.issues] == [
        (3, "kind"),
        (4, "name"),
    ]
    assert str(refused.value).endswith("(and 1 more problems)")
