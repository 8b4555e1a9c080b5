"""``antt register import`` / ``antt register export`` in-process against the test database."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.test_cli import antt, antt_env, sql

__all__ = ["antt_env"]  # the fixture, used by name

HEADER = "unit_code,kind,level,decided_by,decision_no,decided_on,status,status_on,note\n"


def test_register_import_export_and_refusal(
    antt_env: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert antt(capsys, "plan", "import")[0] == 0
    good = tmp_path / "register.csv"
    good.write_text(
        HEADER
        + "vinh-tan,model,province,UBND tỉnh Nghệ An,12/QĐ-UBND,05/03/2024,,,\n"
        + "vinh-tan,model,province,UBND tỉnh Nghệ An,12/QĐ-UBND,05/03/2024,maintained,"
        + "05/03/2025,\n",
        encoding="utf-8",
    )
    code, out, err = antt(capsys, "register", "import", str(good))
    assert code == 0, err
    assert "Recognitions: 1 created, 0 updated, 0 unchanged" in out
    assert "Status events: 2 created, 0 updated, 0 unchanged" in out

    bad = tmp_path / "bad.csv"
    bad.write_text(
        HEADER
        + "hung-loc,safe,,UBND,1/QĐ,01/02/2025,,,\n"
        + "nowhere,drug_free,,UBND,2/QĐ,01/01/2099,,,\n",
        encoding="utf-8",
    )
    code, out, err = antt(capsys, "register", "import", str(bad))
    assert code == 2
    assert err.splitlines() == [
        f"{bad}:2:2: kind: unknown recognition kind safe; expected one of: model, drug_free,"
        " security_safe, rural_security",
        f"{bad}:3:6: decided_on: 01/01/2099 is in the future",
        "Nothing was written.",
    ]
    assert sql(antt_env, "SELECT count(*) FROM recognition") == [(1,)]

    code, out, err = antt(capsys, "register", "export", "--unit", "vinh")
    assert code == 0, err
    assert out.splitlines() == [
        HEADER.strip(),
        "vinh-tan,model,province,UBND tỉnh Nghệ An,12/QĐ-UBND,05/03/2024,recognised,05/03/2024,",
        "vinh-tan,model,province,UBND tỉnh Nghệ An,12/QĐ-UBND,05/03/2024,maintained,05/03/2025,",
    ]


def test_evaluation_open_and_proposals(
    antt_env: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert antt(capsys, "plan", "import")[0] == 0
    code, out, err = antt(capsys, "evaluation", "open", "--year", "2025")
    assert code == 0, err
    assert "Evaluation round 2025 opened." in out and "TEMPLATE" in out
    code, out, err = antt(capsys, "evaluation", "open", "--year", "2025")
    assert "already open; nothing changed" in out
    assert sql(antt_env, "SELECT year, sheet->>'template' FROM evaluation_round") == [
        (2025, "true")
    ]
    path = tmp_path / "p.xlsx"
    code, out, err = antt(capsys, "evaluation", "proposals", "--year", "2025", "-o", str(path))
    assert code == 0, err
    assert f"0 proposals written to {path}." in out and path.stat().st_size > 0
    code, out, err = antt(capsys, "evaluation", "proposals", "--year", "2024")
    assert code == 2 and "No evaluation round 2024." in err
