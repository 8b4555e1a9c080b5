"""handlers.catalogue reads our .po files into gettext translations without Babel
(issue 17, memory): the same translations as Babel's read_po + write_mo, and Babel's
rules for fuzzy, untranslated and plural messages."""

from __future__ import annotations

import gettext
import io
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from handlers.catalogue import PoSyntaxError, read_translations

LOCALES = Path(__file__).resolve().parents[2] / "locales"

HEADER = r"""# A comment.
msgid ""
msgstr ""
"Language: vi\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\n"
"Content-Type: text/plain; charset=utf-8\n"

"""


def po(tmp_path: Path, body: str) -> gettext.GNUTranslations:
    path = tmp_path / "messages.po"
    path.write_text(HEADER + body, encoding="utf-8")
    return read_translations(path)


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_our_catalogues_read_as_babel_reads_them(lang: str) -> None:
    path = LOCALES / lang / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    mo = io.BytesIO()
    write_mo(mo, catalog)
    babels = gettext.GNUTranslations(io.BytesIO(mo.getvalue()))
    ours = read_translations(path)
    # The header differs in wording (Babel rewrites it); what gettext takes from it not.
    assert {k: v for k, v in ours._catalog.items() if k != ""} == {  # type: ignore[attr-defined]
        k: v
        for k, v in babels._catalog.items()  # type: ignore[attr-defined]
        if k != ""
    }
    assert ours._charset == babels._charset == "utf-8"  # type: ignore[attr-defined]
    assert [ours.plural(n) for n in range(4)] == [babels.plural(n) for n in range(4)]


def test_vietnamese_strings_as_written() -> None:
    vi = read_translations(LOCALES / "vi" / "LC_MESSAGES" / "messages.po")
    assert vi.gettext("Cancel") == "Hủy"
    assert vi.gettext("#{id} {category} · {unit} · received {time}") == (
        "#{id} {category} · {unit} · nhận lúc {time}"
    )


def test_rules_for_fuzzy_untranslated_and_obsolete(tmp_path: Path) -> None:
    t = po(
        tmp_path,
        r"""msgid "Yes"
msgstr "Có"

#, fuzzy, python-format
msgid "Maybe"
msgstr "Có lẽ"

#: handlers/start.py:10
msgid "Untranslated"
msgstr ""

#~ msgid "Old"
#~ msgstr "Cũ"
""",
    )
    assert t.gettext("Yes") == "Có"
    assert t.gettext("Maybe") == "Maybe"  # fuzzy: left out
    assert t.gettext("Untranslated") == "Untranslated"
    assert t.gettext("Old") == "Old"
    assert set(t._catalog) == {"", "Yes"}  # type: ignore[attr-defined]


def test_multiline_strings_and_escapes(tmp_path: Path) -> None:
    t = po(
        tmp_path,
        r"""msgid ""
"Line one\n"
"say \"hi\"\t\\"
msgstr ""
"Dòng một\n"
"nói \"chào\"\t\\"
""",
    )
    assert t.gettext('Line one\nsay "hi"\t\\') == 'Dòng một\nnói "chào"\t\\'


def test_plurals_and_an_empty_form_falls_back(tmp_path: Path) -> None:
    t = po(
        tmp_path,
        r"""msgid "{n} file"
msgid_plural "{n} files"
msgstr[0] "{n} tệp"
msgstr[1] "{n} tệp tin"

msgid "{n} task"
msgid_plural "{n} tasks"
msgstr[0] ""
msgstr[1] ""
""",
    )
    assert t.ngettext("{n} file", "{n} files", 1) == "{n} tệp"
    assert t.ngettext("{n} file", "{n} files", 5) == "{n} tệp tin"
    assert t.ngettext("{n} task", "{n} tasks", 1) == "{n} task"
    assert t.ngettext("{n} task", "{n} tasks", 2) == "{n} tasks"


def test_context(tmp_path: Path) -> None:
    t = po(
        tmp_path,
        r"""msgctxt "button"
msgid "Open"
msgstr "Mở"

msgid "Open"
msgstr "Đang mở"
""",
    )
    assert t.pgettext("button", "Open") == "Mở"
    assert t.gettext("Open") == "Đang mở"


@pytest.mark.parametrize("bad", ['msgid "Yes\nmsgstr "Có"\n', 'msgid "Yes"\nmsgstr Có\n'])
def test_a_broken_line_is_an_error_naming_the_line(tmp_path: Path, bad: str) -> None:
    with pytest.raises(PoSyntaxError, match=r"messages\.po:\d+"):
        po(tmp_path, bad)
