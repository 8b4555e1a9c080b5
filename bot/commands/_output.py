"""Plain-text output shared by the data commands: import counts and simple tables.

Not a command itself (``bot.cli`` loads only the names in ``COMMANDS``). Imports
nothing heavy: the data types it prints are duck-typed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from handlers.i18n import _

TABLE_NAMES = {
    "units": lambda: _("Units"),
    "plans": lambda: _("Plans"),
    "tasks": lambda: _("Tasks"),
    "assignments": lambda: _("Assignments"),
    "tip categories": lambda: _("Tip categories"),
    "recognitions": lambda: _("Recognitions"),
    "status events": lambda: _("Status events"),
}

# The same msgids as the role labels of handlers/start.py, so both say the same thing.
ROLE_NAMES = {
    "officer": lambda: _("commune officer"),
    "force": lambda: _("grassroots security force member"),
    "supervisor": lambda: _("supervisor"),
    "admin": lambda: _("administrator"),
}

UNIT_KIND_NAMES = {
    "province": lambda: _("province"),
    "city": lambda: _("city"),
    "town": lambda: _("town"),
    "district": lambda: _("district"),
    "commune": lambda: _("commune"),
    "ward": lambda: _("ward"),
    "residential_area": lambda: _("residential area"),
    "agency": lambda: _("agency"),
    "enterprise": lambda: _("enterprise"),
    "school": lambda: _("school"),
    "parish": lambda: _("parish"),
    "industrial_park": lambda: _("industrial park"),
}


class _Counts(Protocol):
    created: int
    updated: int
    unchanged: int


def name_of(names: Mapping[str, Callable[[], str]], key: str) -> str:
    """The translated name of a table, role or unit kind (the key itself if unknown)."""
    return names[key]() if key in names else key


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
