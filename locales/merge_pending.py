"""Merge the translations dropped in ``locales/pending/*.json`` into the Vietnamese catalogue.

Each pending file is a JSON object ``{"English msgid": "bản dịch"}``; for a plural
message the key is the singular msgid and the value a string (Vietnamese has one
form) or a list of forms. Only empty or fuzzy entries of
``locales/vi/LC_MESSAGES/messages.po`` are filled: a translation already in the
catalogue wins (and the differing pending one is reported) unless ``--overwrite``.
A translation whose ``{placeholders}`` differ from the msgid's is skipped and
reported.

Run from the repository root::

    .venv/bin/python locales/merge_pending.py            # merge locales/pending/*.json
    .venv/bin/python locales/merge_pending.py --refresh  # pybabel extract + update first
    .venv/bin/python locales/merge_pending.py more.json  # merge these files instead
    .venv/bin/python locales/merge_pending.py --overwrite  # pending wording replaces ours

It ends by listing the msgids that still have no Vietnamese translation.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po, write_po

LOCALES = Path(__file__).resolve().parent
ROOT = LOCALES.parent
VI_PO = LOCALES / "vi" / "LC_MESSAGES" / "messages.po"
POT = LOCALES / "messages.pot"
_PLACEHOLDER = re.compile(r"(?<!\{)\{([^{}]*)\}(?!\})")


def placeholders(text: str) -> set[str]:
    """Names of ``{named}`` fields (format specs and conversions ignored)."""
    return {re.split(r"[:!]", m)[0] for m in _PLACEHOLDER.findall(text)}


def msgids(message: Message) -> list[str]:
    return list(message.id) if isinstance(message.id, list | tuple) else [message.id]


def msgstrs(message: Message) -> list[str]:
    if isinstance(message.string, list | tuple):
        return list(message.string)
    return [message.string or ""]


def forms_of(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def is_translated(message: Message) -> bool:
    return not message.fuzzy and all(s.strip() for s in msgstrs(message))


def refresh() -> None:
    """pybabel extract + update, the same commands as in the README."""
    cli = CommandLineInterface()
    for args in (
        ["extract", "-F", "babel.cfg", "-k", "_", "-k", "N_", "-k", "ngettext:1,2"]
        + ["-o", str(POT.relative_to(ROOT)), "--no-location", "--sort-output", "."],
        ["update", "-i", str(POT.relative_to(ROOT)), "-d", "locales", "-D", "messages"]
        + ["--no-fuzzy-matching", "--ignore-obsolete"],
    ):
        cli.run(["pybabel", "-q", *args])


def merge(
    catalog: Catalog, pending: dict[str, object], source: str, *, overwrite: bool = False
) -> tuple[int, list[str]]:
    """Fill empty/fuzzy entries from ``pending`` (all entries with ``overwrite``).

    Returns (entries filled, problems); a pending translation that differs from a
    kept one is reported as a problem, so nobody's wording is dropped silently.
    """
    filled, problems = 0, []
    for msgid, value in pending.items():
        message = catalog.get(msgid)
        if message is None:
            problems.append(f"{source}: not in the catalogue (run --refresh?): {msgid!r}")
            continue
        if is_translated(message) and not overwrite:
            if forms_of(value) != msgstrs(message)[: len(forms_of(value))]:
                problems.append(
                    f"{source}: kept the catalogue's translation (--overwrite takes this one): "
                    f"{msgid!r}"
                )
            continue
        given = list(value) if isinstance(value, list) else [value]
        forms = [f for f in given if isinstance(f, str) and f.strip()]
        if not forms or len(forms) != len(given):
            problems.append(f"{source}: empty or not text: {msgid!r}")
            continue
        wanted = set().union(*(placeholders(i) for i in msgids(message)))
        bad = [f for f in forms if placeholders(f) != wanted]
        if bad:
            problems.append(
                f"{source}: placeholders {sorted(placeholders(bad[0]))} != "
                f"{sorted(wanted)} in {msgid!r}"
            )
            continue
        if isinstance(message.id, list | tuple):
            count = catalog.num_plurals
            message.string = tuple((forms * count)[:count]) if len(forms) == 1 else tuple(forms)
        else:
            message.string = forms[0]
        message.flags.discard("fuzzy")
        filled += 1
    return filled, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path, help="default: locales/pending/*.json")
    parser.add_argument("--refresh", action="store_true", help="extract and update first")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="let pending translations replace existing ones (an area owner's wording wins)",
    )
    args = parser.parse_args(argv)
    if args.refresh:
        refresh()
    files = args.files or sorted((LOCALES / "pending").glob("*.json"))
    with VI_PO.open("rb") as fh:
        catalog = read_po(fh, locale="vi")
    total, problems = 0, []
    for path in files:
        pending = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(pending, dict):
            problems.append(f"{path.name}: not a JSON object")
            continue
        filled, found = merge(catalog, pending, path.name, overwrite=args.overwrite)
        total += filled
        problems += found
        print(f"{path.name}: {filled} filled")
    with VI_PO.open("wb") as fh:
        write_po(fh, catalog)
    missing = [m.id for m in catalog if m.id and not is_translated(m)]
    print(f"{total} translations merged into {VI_PO.relative_to(ROOT)}")
    for problem in problems:
        print("problem:", problem)
    if missing:
        print(f"{len(missing)} msgids still lack a Vietnamese translation:")
        for msgid in missing:
            print("  ", json.dumps(msgids_of(msgid), ensure_ascii=False))
    return 0


def msgids_of(msgid: object) -> str:
    return msgid[0] if isinstance(msgid, list | tuple) else str(msgid)


if __name__ == "__main__":
    sys.exit(main())
