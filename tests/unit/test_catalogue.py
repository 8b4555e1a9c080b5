"""The catalogues cover the code: every msgid has a Vietnamese translation with the same
``{placeholders}``; and the merge script for ``locales/pending/*.json`` behaves.

When this fails because of new strings, add them with their Vietnamese to
``locales/pending/<area>.json`` and run
``.venv/bin/python locales/merge_pending.py --refresh``.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
LOCALES = ROOT / "locales"
KEYWORDS = {**DEFAULT_KEYWORDS, "_": None, "N_": None, "ngettext": (1, 2)}
FIX = (
    "Add each msgid with its Vietnamese translation to locales/pending/<area>.json, then run "
    "`.venv/bin/python locales/merge_pending.py --refresh` (extract, update, merge)."
)
_PLACEHOLDER = re.compile(r"(?<!\{)\{([^{}]*)\}(?!\})")


def placeholders(text: str) -> set[str]:
    return {re.split(r"[:!]", m)[0] for m in _PLACEHOLDER.findall(text)}


def forms(value: object) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [str(value or "")]


def extracted() -> dict[str, tuple[tuple[str, ...], str, int]]:
    """Singular msgid -> (all msgid forms, file, line) for the code babel.cfg maps."""
    with (ROOT / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    found: dict[str, tuple[tuple[str, ...], str, int]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        ids = tuple(m for m in forms(message) if m)
        if ids:
            found.setdefault(ids[0], (ids, filename, lineno))
    return found


def catalogue(lang: str) -> Catalog:
    with (LOCALES / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh, locale=lang)


def entries(catalog: Catalog) -> Iterator[Message]:
    return (m for m in catalog if m.id)


def test_extraction_finds_the_code() -> None:
    found = extracted()
    # Sanity: the engine's and start.py's strings are seen, so an empty result cannot pass.
    assert "Cancelled. Nothing was saved." in found
    assert "Language set to English." in found
    assert len(found) > 50


def test_every_msgid_has_a_vietnamese_translation() -> None:
    vi = catalogue("vi")
    missing = []
    for msgid, (_ids, filename, line) in sorted(extracted().items(), key=lambda kv: kv[1][1:]):
        where = f"{filename}:{line}"
        entry = vi.get(msgid)
        if entry is None:
            missing.append(f"  {where}: not in the catalogue: {json.dumps(msgid)}")
        elif entry.fuzzy:
            missing.append(f"  {where}: fuzzy: {json.dumps(msgid)}")
        elif not all(s.strip() for s in forms(entry.string)):
            missing.append(f"  {where}: no translation: {json.dumps(msgid)}")
    if missing:
        pytest.fail(
            f"{len(missing)} msgids lack a Vietnamese translation:\n"
            + "\n".join(missing)
            + "\n"
            + FIX,
            pytrace=False,
        )


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_translations_keep_the_placeholders(lang: str) -> None:
    wrong = []
    for entry in entries(catalogue(lang)):
        wanted = set().union(*(placeholders(i) for i in forms(entry.id)))
        for text in forms(entry.string):
            if text and placeholders(text) != wanted:
                wrong.append(
                    f"  {json.dumps(forms(entry.id)[0])}: {sorted(placeholders(text))} "
                    f"instead of {sorted(wanted)} in {json.dumps(text, ensure_ascii=False)}"
                )
    if wrong:
        pytest.fail(
            f"{lang} translations with other placeholders:\n" + "\n".join(wrong), pytrace=False
        )


def test_vietnamese_has_one_plural_form() -> None:
    assert catalogue("vi").num_plurals == 1
    assert catalogue("en").num_plurals == 2


def test_language_switch_note_is_said_in_the_new_language() -> None:
    entry = catalogue("vi").get("Language set to English.")
    assert entry is not None and entry.string == "Đã chuyển sang tiếng Việt."


# --- the merge script -----------------------------------------------------------


def _merge_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("merge_pending", LOCALES / "merge_pending.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_merge_fills_only_empty_or_fuzzy_entries() -> None:
    merge = _merge_module().merge
    catalog = Catalog(locale="vi")
    catalog.add("Hello {name}", "")
    catalog.add("Bye", "Tạm biệt")
    catalog.add("Old", "Cũ", flags={"fuzzy"})
    catalog.add(("{n} task", "{n} tasks"), ("",))
    catalog.add("Wrong", "")
    filled, problems = merge(
        catalog,
        {
            "Hello {name}": "Xin chào {name}",
            "Bye": "Chào nhé",
            "Old": "Mới",
            "{n} task": "{n} nhiệm vụ",
            "Wrong": "Sai {x}",
            "Absent": "Vắng",
        },
        "test.json",
    )
    assert filled == 3

    def get(msgid: str) -> Message:
        entry = catalog.get(msgid)
        assert entry is not None
        return entry

    assert get("Hello {name}").string == "Xin chào {name}"
    assert get("Bye").string == "Tạm biệt", "a reviewed translation wins"
    assert get("Old").string == "Mới" and not get("Old").fuzzy
    assert get("{n} task").string == ("{n} nhiệm vụ",)
    assert get("Wrong").string == ""
    assert any("placeholders" in p and "Wrong" in p for p in problems)
    assert any("not in the catalogue" in p and "Absent" in p for p in problems)
    assert any("kept the catalogue's" in p and "Bye" in p for p in problems)


def test_merge_overwrite_lets_pending_wording_win() -> None:
    merge = _merge_module().merge
    catalog = Catalog(locale="vi")
    catalog.add("Bye", "Tạm biệt")
    filled, problems = merge(catalog, {"Bye": "Chào nhé"}, "test.json", overwrite=True)
    entry = catalog.get("Bye")
    assert filled == 1 and not problems
    assert entry is not None and entry.string == "Chào nhé"
