"""Translations (Babel/gettext, domain ``messages``) and Vietnamese-first formatting.

Catalogues are read from ``locales/<lang>/LC_MESSAGES/messages.po`` and compiled
in memory at first use, so a stale ``.mo`` can never shadow an edited ``.po``.
msgids are English with ``{named}`` placeholders: ``_("{n} tasks").format(n=3)``.
"""

from __future__ import annotations

import datetime as dt
import gettext
import io
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

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
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


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
    """dd/MM/yyyy; a datetime is first moved to Asia/Ho_Chi_Minh."""
    if isinstance(value, dt.datetime):
        value = local(value).date()
    return value.strftime("%d/%m/%Y")


def format_datetime(moment: dt.datetime) -> str:
    """HH:mm dd/MM/yyyy in Asia/Ho_Chi_Minh."""
    return local(moment).strftime("%H:%M %d/%m/%Y")


def format_number(value: float | int, lang: str | None = None) -> str:
    """Thousands grouped the local way: 1.234 in Vietnamese, 1,234 in English."""
    lang = lang or current_language()
    if float(value).is_integer():
        text = f"{int(value):,}"
    else:
        text = f"{value:,.1f}"
    if lang == "vi":
        text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    return text


def local_today(now: dt.datetime | None = None) -> dt.date:
    return local(now or dt.datetime.now(dt.UTC)).date()
