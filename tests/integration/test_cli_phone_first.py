"""The CLI of issue 16: one name per option, real defaults in help, no empty database
created by a command run from the wrong folder, the demo's day in ``antt export``."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import cli
from tests.integration.test_cli import _logging_restored, antt, antt_env  # noqa: F401


def test_a_command_in_a_folder_without_a_database_names_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.config import get_settings

    monkeypatch.delenv("ANTT_DATABASE_URL", raising=False)
    monkeypatch.setenv("ANTT_DATA_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("ANTT_DEFAULT_LANGUAGE", "en")
    get_settings.cache_clear()
    try:
        with _logging_restored():
            for args in (
                ("qr", "--unit", "nam-giang", "--bot", "antt_bot", "--output", str(tmp_path)),
                ("export", "--unit", "nam-dan"),
                ("member", "list"),
                ("invite", "create", "--unit", "nam-dan", "--role", "officer"),
                ("unit", "list"),
            ):
                code, out, err = antt(capsys, *args)
                assert code == 2, (args, out, err)
                assert f"No database in {tmp_path / 'elsewhere'}" in err, err
            assert not (tmp_path / "elsewhere" / "pg").exists(), "nothing was created"
    finally:
        get_settings.cache_clear()


def test_one_name_per_option_and_real_defaults() -> None:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    commands = sub.choices  # type: ignore[attr-defined]
    qr_options = {o for a in commands["qr"]._actions for o in a.option_strings}
    export_options = {o for a in commands["export"]._actions for o in a.option_strings}
    assert "--output" in qr_options and "--out" not in qr_options
    assert "--output" in export_options
    # "--out" still reads as the unambiguous start of "--output".
    assert commands["qr"].parse_args(["--unit", "x", "--out", "d"]).output == Path("d")
    demo_help = commands["demo"].format_help()
    from bot.config import Settings

    port = Settings.web_port  # the default, a class attribute
    assert str(port) in demo_help and port == 8080


def test_export_without_dates_uses_the_demo_day(
    antt_env: str,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot.config import get_settings

    monkeypatch.setenv("ANTT_DATA_DIR", str(tmp_path))  # no clock file: the demo's first day
    get_settings.cache_clear()
    code, _out, err = antt(capsys, "demo", "--setup-only")
    assert code == 0, err
    target = tmp_path / "out.xlsx"
    code, out, err = antt(capsys, "export", "--unit", "nam-dan", "--output", str(target))
    assert code == 0, err
    # The 30 days up to the demo's 05/05/2025 (06/04 included), not up to the real today.
    assert "(06/04/2025 to 05/05/2025" in out, out
    assert "0 check-ins" not in out
