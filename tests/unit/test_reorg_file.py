"""Reading a reorganisation mapping: dates, columns and rows checked before any database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from db.reorg_file import MappingRow, ReorganizeError, parse_date, read_mapping
from handlers.i18n import current_language, set_language


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    previous = current_language()
    set_language("en")
    yield
    set_language(previous)


def test_dates_in_both_forms() -> None:
    assert parse_date("01/07/2025") == dt.date(2025, 7, 1)
    assert parse_date("1/7/2025") == dt.date(2025, 7, 1)
    assert parse_date("2025-07-01") == dt.date(2025, 7, 1)
    assert parse_date("31/06/2025") is None
    assert parse_date("07/01/25") is None
    assert parse_date("") is None


def test_rows_and_their_json_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text(
        "\ufeffnew_code,old_code,effective_date,new_name,new_kind,new_parent,new_lat,new_lon\n"
        "moi,a,01/07/2025,Xã Mới,Commune,tinh,18.5,105,5\n".replace("105,5", '"105,5"')
        + "\n,b,2025-07-01,,,,,\n",
        encoding="utf-8",
    )
    mapping = read_mapping(path, display_name="m.csv")
    first, second = mapping.rows
    assert first == MappingRow(
        2, "a", "moi", dt.date(2025, 7, 1), "Xã Mới", "commune", "tinh", 18.5, 105.5
    )
    assert second == MappingRow(4, "b", None, dt.date(2025, 7, 1))
    assert MappingRow.from_json(first.as_json()) == first


def test_every_problem_of_form_is_listed(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "old_code,new_code,effective_date,colour\n",
        encoding="utf-8",
    )
    with pytest.raises(ReorganizeError) as header:
        read_mapping(path, display_name="bad.csv")
    assert [str(i) for i in header.value.issues] == [
        "bad.csv:1:4: colour: unknown column; expected: old_code, new_code, effective_date,"
        " new_name, new_kind, new_parent, new_lat, new_lon"
    ]
    path.write_text(
        "old_code,new_code,effective_date,new_name,new_kind,new_parent,new_lat\n"
        ",,01/07/2025,,,,\n"
        "a b,x,01/07/2025,,,,\n"
        "a,,01/07/2025,Tên,commune,,\n"
        "a,x,01/07/2025,,,,95\n",
        encoding="utf-8",
    )
    with pytest.raises(ReorganizeError) as rows:
        read_mapping(path, display_name="bad.csv")
    assert [str(i) for i in rows.value.issues] == [
        "bad.csv:2: give old_code, new_code or both",
        "bad.csv:3:1: old_code: a b is not a valid code (letters, digits, '-', '_' or '.')",
        "bad.csv:4:2: new_code: new_name, new_kind and new_parent need a new_code",
        "bad.csv:5: give both new_lat and new_lon, or neither",
        "bad.csv:5:7: new_lat: expected a number between -90 and 90, got 95",
    ]
