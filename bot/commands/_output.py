"""Plain-text output shared by the data commands: import counts and simple tables.

Not a command itself (``bot.cli`` loads only the names in ``COMMANDS``). Imports
nothing heavy: the data types it prints are duck-typed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from handlers.i18n import N_, _

TABLE_NAMES = {
    "units": N_("Units"),
    "plans": N_("Plans"),
    "tasks": N_("Tasks"),
    "assignments": N_("Assignments"),
    "tip categories": N_("Tip categories"),
    "recognitions": N_("Recognitions"),
    "status events": N_("Status events"),
}

# The same msgids as the role labels of handlers/start.py, so both say the same thing.
ROLE_NAMES = {
    "officer": N_("commune officer"),
    "force": N_("grassroots security force member"),
    "supervisor": N_("supervisor"),
    "admin": N_("administrator"),
}

UNIT_KIND_NAMES = {
    "province": N_("province"),
    "city": N_("city"),
    "town": N_("town"),
    "district": N_("district"),
    "commune": N_("commune"),
    "ward": N_("ward"),
    "residential_area": N_("residential area"),
    "agency": N_("agency"),
    "enterprise": N_("enterprise"),
    "school": N_("school"),
    "parish": N_("parish"),
    "industrial_park": N_("industrial park"),
}


class _Counts(Protocol):
    created: int
    updated: int
    unchanged: int


def name_of(names: Mapping[str, str], key: str) -> str:
    """The translated name of a table, role or unit kind (the key itself if unknown)."""
    return _(names[key]) if key in names else key


def counts_line(table: str, counts: _Counts) -> str:
    return _("{what}: {created} created, {updated} updated, {unchanged} unchanged").format(
        what=name_of(TABLE_NAMES, table),
        created=counts.created,
        updated=counts.updated,
        unchanged=counts.unchanged,
    )


def render_table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], *, right: Sequence[int] = ()
) -> str:
    """Columns padded to their widest cell; columns listed in ``right`` aligned right."""
    cells = [[str(c) for c in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        parts = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])


def shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"
