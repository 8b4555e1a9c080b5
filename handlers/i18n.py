"""Translations (Babel/gettext, domain ``messages``) and Vietnamese-first formatting.

Catalogues are read from ``locales/<lang>/LC_MESSAGES/messages.po`` and compiled
in memory at first use (:mod:`handlers.catalogue`), so a stale ``.mo`` can never
shadow an edited ``.po``. msgids are English with ``{named}`` placeholders:
``_("{n} tasks").format(n=3)``.

Dates dd/MM/yyyy and times HH:mm, in Asia/Ho_Chi_Minh, are the same digits in both
languages and are written here. Numbers and relative times go through Babel's
locale data (``babel.numbers``, ``babel.dates``): 1.234,5 in Vietnamese, 1,234.5 in
English; Babel is imported when one is first formatted, not by every process that
translates (its modules and the vi and en locale data are about 5 MB; issue 17).
"""

from __future__ import annotations

import datetime as dt
import gettext
from contextvars import ContextVar
from decimal import Decimal
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from handlers.catalogue import read_translations

LOCALES = Path(__file__).resolve().parents[1] / "locales"
LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"
TZ = ZoneInfo("Asia/Ho_Chi_Minh")

_current: ContextVar[str] = ContextVar("antt_language", default=DEFAULT_LANGUAGE)


@cache
def translations(lang: str) -> gettext.NullTranslations:
    po = LOCALES / lang / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        return gettext.NullTranslations()
    return read_translations(po)


def pick_language(code: str | None) -> str:
    """Our language for a client's language code ("en-US" -> "en"); Vietnamese otherwise."""
    if code:
        short = code.split("-")[0].split("_")[0].lower()
        if short in LANGUAGES:
            return short
    return DEFAULT_LANGUAGE


def set_language(lang: str | None) -> None:
    """Set the language of the current task (each update runs in its own context)."""
    _current.set(pick_language(lang))


def current_language() -> str:
    return _current.get()


def _(message: str) -> str:
    """Translate into the current language."""
    return translations(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_current.get()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark a string for extraction; translate later with ``_``."""
    return message


def gettext_in(lang: str, message: str) -> str:
    return translations(pick_language(lang)).gettext(message)


def local(moment: dt.datetime) -> dt.datetime:
    """A UTC (or naive-as-UTC) moment in Asia/Ho_Chi_Minh."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(TZ)


def format_date(value: dt.date | dt.datetime) -> str:
    """dd/MM/yyyy (Babel's pattern, Latin digits in vi and en); a datetime is first
    moved to Asia/Ho_Chi_Minh."""
    if isinstance(value, dt.datetime):
        value = local(value).date()
    return f"{value.day:02d}/{value.month:02d}/{value.year:04d}"


def format_time(moment: dt.datetime) -> str:
    """HH:mm in Asia/Ho_Chi_Minh."""
    moment = local(moment)
    return f"{moment.hour:02d}:{moment.minute:02d}"


def format_datetime(moment: dt.datetime) -> str:
    """HH:mm dd/MM/yyyy in Asia/Ho_Chi_Minh."""
    return f"{format_time(moment)} {format_date(moment)}"


def format_ago(delta: dt.timedelta, lang: str | None = None) -> str:
    """A past span in words, rounded the way people say it: "2 giờ trước", "3 days ago"."""
    from babel import dates

    return dates.format_timedelta(
        -delta, add_direction=True, threshold=1.5, locale=lang or current_language()
    )


def format_number(value: float | int | Decimal, lang: str | None = None) -> str:
    """Thousands grouped the local way, one decimal at most: 1.234,5 in Vietnamese,
    1,234.5 in English."""
    from babel import numbers

    return numbers.format_decimal(value, format="#,##0.#", locale=lang or current_language())


def parse_number(text: str) -> Decimal:
    """A number typed the Vietnamese way first ("1.234" = 1234, "12,5" = 12.5), else the
    English way when only that reads ("12.5", "1,234,567"); ``ValueError`` otherwise."""
    from babel import numbers

    for lang in (DEFAULT_LANGUAGE, "en"):
        try:
            return numbers.parse_decimal(text, locale=lang, strict=True)
        except numbers.NumberFormatError:
            continue
    raise ValueError(text)


def local_today(now: dt.datetime | None = None) -> dt.date:
    return local(now or dt.datetime.now(dt.UTC)).date()
