"""Language choice, translations and Vietnamese-first formatting of dates and numbers."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from handlers.i18n import (
    _,
    current_language,
    format_date,
    format_datetime,
    format_number,
    gettext_in,
    local_today,
    ngettext,
    pick_language,
    set_language,
)


@pytest.fixture(autouse=True)
def _vietnamese_after() -> object:
    yield
    set_language("vi")


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("vi", "vi"),
        ("en", "en"),
        ("en-US", "en"),
        ("en_GB", "en"),
        ("EN", "en"),
        ("vi-VN", "vi"),
        ("fr", "vi"),
        ("", "vi"),
        (None, "vi"),
    ],
)
def test_pick_language(code: str | None, expected: str) -> None:
    assert pick_language(code) == expected


def test_format_date_moves_to_ho_chi_minh_first() -> None:
    # 20:00 UTC on the 19th is 03:00 on the 20th in Hà Nội (UTC+7).
    assert format_date(dt.datetime(2025, 3, 19, 20, 0, tzinfo=dt.UTC)) == "20/03/2025"
    assert format_date(dt.datetime(2025, 3, 19, 16, 59, tzinfo=dt.UTC)) == "19/03/2025"
    assert format_date(dt.datetime(2025, 3, 19, 17, 0, tzinfo=dt.UTC)) == "20/03/2025"
    # A naive datetime is read as UTC.
    assert format_date(dt.datetime(2025, 12, 31, 18, 0)) == "01/01/2026"
    # A plain date is shown as it is.
    assert format_date(dt.date(2025, 1, 5)) == "05/01/2025"


def test_format_datetime() -> None:
    assert format_datetime(dt.datetime(2025, 3, 19, 20, 5, tzinfo=dt.UTC)) == "03:05 20/03/2025"


def test_local_today() -> None:
    assert local_today(dt.datetime(2025, 3, 19, 20, 0, tzinfo=dt.UTC)) == dt.date(2025, 3, 20)


@pytest.mark.parametrize(
    ("value", "lang", "expected"),
    [
        (1234567, "vi", "1.234.567"),
        (1234567, "en", "1,234,567"),
        (1234.5, "vi", "1.234,5"),
        (1234.5, "en", "1,234.5"),
        (999, "vi", "999"),
        (0, "vi", "0"),
        (-1500, "vi", "-1.500"),
        (12.0, "vi", "12"),
    ],
)
def test_format_number(value: float, lang: str, expected: str) -> None:
    assert format_number(value, lang) == expected


def test_format_number_follows_the_current_language() -> None:
    set_language("vi")
    assert format_number(2500) == "2.500"
    set_language("en")
    assert format_number(2500) == "2,500"


def test_vietnamese_translation_is_returned() -> None:
    set_language("vi")
    assert current_language() == "vi"
    assert _("Cancel") == "Hủy"
    assert _("Language set to English.") == "Đã chuyển sang tiếng Việt."
    assert ngettext("{count} member in your units", "{count} members in your units", 3).format(
        count=3
    ) == ("Đơn vị của bạn có 3 thành viên")
    set_language("en")
    assert _("Cancel") == "Cancel"
    assert ngettext("{count} member in your units", "{count} members in your units", 1) == (
        "{count} member in your units"
    )


def test_unknown_language_falls_back_to_vietnamese() -> None:
    set_language("de")
    assert current_language() == "vi"
    set_language(None)
    assert _("Help") == "Trợ giúp"


def test_untranslated_text_falls_back_to_the_msgid() -> None:
    set_language("vi")
    assert _("A string nobody translated") == "A string nobody translated"


def test_gettext_in_another_language() -> None:
    set_language("en")
    assert gettext_in("vi", "Help") == "Trợ giúp"
    assert gettext_in("en-US", "Help") == "Help"
    assert current_language() == "en"


async def test_language_is_per_task() -> None:
    """Each update runs in its own task: one person's language never leaks to another's."""
    seen: dict[str, str] = {}

    async def person(lang: str) -> None:
        set_language(lang)
        await asyncio.sleep(0.01)
        seen[lang] = _("Help")

    await asyncio.gather(person("vi"), person("en"))
    assert seen == {"vi": "Trợ giúp", "en": "Help"}


# --- Babel does the locale work (issue 16) ----------------------------------------------


def test_relative_time_in_each_language() -> None:
    from handlers.i18n import format_ago

    assert format_ago(dt.timedelta(hours=30), "vi") == "30 giờ trước"
    assert format_ago(dt.timedelta(minutes=5), "vi") == "5 phút trước"
    assert format_ago(dt.timedelta(hours=50), "en") == "2 days ago"
    assert format_ago(dt.timedelta(hours=2), "en") == "2 hours ago"
    assert format_ago(dt.timedelta(minutes=60), "en") == "60 minutes ago"


def test_time_of_day_in_ho_chi_minh() -> None:
    from handlers.i18n import format_time

    assert format_time(dt.datetime(2025, 3, 19, 20, 5, tzinfo=dt.UTC)) == "03:05"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.234", "1234"),  # a dot groups thousands
        ("1.234.567", "1234567"),
        ("12,5", "12.5"),  # a comma marks decimals
        ("1.234,5", "1234.5"),
        ("1,234", "1.234"),  # the Vietnamese reading wins
        ("12.5", "12.5"),  # only the English reading fits
        ("1,234,567", "1234567"),
        ("1,234.5", "1234.5"),
    ],
)
def test_parse_number_vietnamese_first(text: str, expected: str) -> None:
    from decimal import Decimal

    from handlers.i18n import parse_number

    assert parse_number(text) == Decimal(expected)


@pytest.mark.parametrize("text", ["1..2", "1,2,3", "abc"])
def test_parse_number_refuses(text: str) -> None:
    from handlers.i18n import parse_number

    with pytest.raises(ValueError):
        parse_number(text)


# --- dates and times without Babel (issue 17, memory) -----------------------------------


def test_dates_and_times_keep_babels_digits() -> None:
    from handlers.i18n import format_time

    # Babel's "yyyy" pads to four digits; hours run 00-23 in both languages.
    assert format_date(dt.date(999, 2, 3)) == "03/02/0999"
    set_language("en")
    assert format_datetime(dt.datetime(2025, 12, 31, 17, 0, tzinfo=dt.UTC)) == "00:00 01/01/2026"
    assert format_time(dt.datetime(2025, 6, 1, 10, 30, tzinfo=dt.UTC)) == "17:30"


def test_translating_and_dates_do_not_load_babel() -> None:
    """A process that only translates and shows dates never imports Babel; a number
    imports it."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    probe = (
        "import sys, datetime as dt\n"
        "from handlers.i18n import _, format_datetime, format_number, set_language\n"
        "set_language('vi')\n"
        "shown = _('Cancel'), format_datetime(dt.datetime(2025, 3, 19, 20, 5))\n"
        "before = any(m.split('.')[0] == 'babel' for m in sys.modules)\n"
        "shown += (format_number(2500),)\n"
        "print(shown, before, 'babel.numbers' in sys.modules)\n"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=root,
        env={k: v for k, v in os.environ.items() if not k.startswith("ANTT_")},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "('Hủy', '03:05 20/03/2025', '2.500') False True"
