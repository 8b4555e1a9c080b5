"""``antt unit reorganize`` from the command line: dry run, apply, a second run, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration import test_cli
from tests.integration.test_cli import antt, sql

antt_env = test_cli.antt_env  # the fixture: ANTT_* settings for the test database

UNITS = """code,name,kind,parent_code
nghe-an,Tỉnh Nghệ An,province,
nam-dan,Huyện Nam Đàn,district,nghe-an
nam-giang,Xã Nam Giang,commune,nam-dan
kim-lien,Xã Kim Liên,commune,nam-dan
"""
MAPPING = """old_code,new_code,effective_date,new_name,new_kind,new_parent
nam-giang,kim-lien-moi,01/07/2025,Xã Kim Liên,commune,nghe-an
kim-lien,kim-lien-moi,01/07/2025,,,
nam-dan,,01/07/2025,,,
"""


def test_dry_run_then_apply_then_again(
    antt_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    units = tmp_path / "units.csv"
    units.write_text(UNITS, encoding="utf-8")
    mapping = tmp_path / "map.csv"
    mapping.write_text(MAPPING, encoding="utf-8")
    assert antt(capsys, "unit", "import", str(units))[0] == 0

    code, out, err = antt(capsys, "unit", "reorganize", str(mapping), "--dry-run")
    assert (code, err) == (0, "")
    assert "Dry run of" in out and "nothing was changed" in out
    assert "unit opens on 01/07/2025: kim-lien-moi (Xã Kim Liên)" in out
    assert "unit closes on 01/07/2025: nam-giang, merged into kim-lien-moi" in out
    assert "unit ends on 01/07/2025: nam-dan, without a successor" in out
    assert sql(antt_env, "SELECT count(*) FROM unit") == [(4,)]

    code, out, err = antt(capsys, "unit", "reorganize", str(mapping))
    assert (code, err) == (0, "")
    assert "1 units opened, 3 closed" in out
    assert sql(antt_env, "SELECT count(*) FROM unit WHERE valid_to IS NOT NULL") == [(3,)]
    assert sql(antt_env, "SELECT count(*) FROM audit WHERE action = 'unit.reorganize'") == [(1,)]

    code, out, err = antt(capsys, "unit", "reorganize", str(mapping))
    assert (code, err) == (0, "")
    assert "Nothing changed." in out


def test_every_problem_on_its_own_line(
    antt_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    units = tmp_path / "units.csv"
    units.write_text(UNITS, encoding="utf-8")
    assert antt(capsys, "unit", "import", str(units))[0] == 0
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "old_code,new_code,effective_date,new_name,new_kind,new_parent\n"
        "xa-khong-co,kim-lien,01/07/2025,,,\n"
        "nam-giang,xa-moi,01/07/2025,Xã Mới,commune,\n",
        encoding="utf-8",
    )
    code, out, err = antt(capsys, "unit", "reorganize", str(bad))
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert lines[0].endswith("bad.csv:2: old_code: unknown unit xa-khong-co")
    assert lines[1].endswith("bad.csv:3: new_parent: the new unit xa-moi needs a parent")
    assert lines[2] == "The mapping was refused; nothing was changed."
    assert sql(antt_env, "SELECT count(*) FROM unit WHERE valid_to IS NOT NULL") == [(0,)]
