"""``antt`` speaks ANTT_DEFAULT_LANGUAGE, else the locale's language, else Vietnamese."""

from __future__ import annotations

import pytest

from bot.cli import cli_language, main
from handlers.i18n import set_language


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "vi"),
        ({"LANG": "C.UTF-8"}, "vi"),
        ({"LANG": "en_US.UTF-8"}, "en"),
        ({"LANG": "vi_VN.UTF-8"}, "vi"),
        ({"LANG": "fr_FR.UTF-8"}, "vi"),
        ({"LANG": "vi_VN.UTF-8", "LC_ALL": "en_GB.UTF-8"}, "en"),
        ({"LC_ALL": "en_GB.UTF-8", "ANTT_DEFAULT_LANGUAGE": "vi"}, "vi"),
        ({"ANTT_DEFAULT_LANGUAGE": "en"}, "en"),
    ],
)
def test_cli_language(env: dict[str, str], expected: str) -> None:
    assert cli_language(env) == expected


@pytest.mark.parametrize(
    ("lang", "description", "verbose"),
    [
        ("en_US.UTF-8", "the all-people security movement plan", "log at DEBUG level"),
        ("C.UTF-8", "phong trào toàn dân bảo vệ an ninh", "ghi nhật ký ở mức DEBUG"),
    ],
)
def test_help_is_in_the_cli_language(
    lang: str,
    description: str,
    verbose: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LANG", lang)
    try:
        with pytest.raises(SystemExit) as done:
            main(["--help"])
    finally:
        set_language("vi")
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert description in out and verbose in out
