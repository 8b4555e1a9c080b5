"""Read a reorganisation mapping (``antt unit reorganize FILE.csv``): one row per change.

Columns (header row, any order; UTF-8 with or without a byte-order mark)::

    old_code,new_code,effective_date,new_name,new_kind,new_parent[,new_lat,new_lon]

============================  =====================================================
row                           means
============================  =====================================================
``old,new,date``              ``old`` merges into ``new`` on ``date``
``old,,date``                 ``old`` ends on ``date`` without a successor
``,new,date,name,kind,par``   ``new`` opens on ``date`` under ``par`` (no predecessor)
============================  =====================================================

A successor that does not exist yet is created from ``new_name``, ``new_kind`` and
``new_parent`` (and optionally the coordinates of its centre, ``new_lat``/``new_lon``,
so a shared location finds it), given on any row that names it (several rows must
agree). Dates are
``DD/MM/YYYY`` or ``YYYY-MM-DD``; ``effective_date`` is the first day of the new map.
This module checks only what needs no database; ``db.reorganize`` checks the rest.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from db.importing import CODE_RE, DataFileError, IssueLog, Where, read_text
from db.models import UnitKind
from handlers.i18n import _

COLUMNS = (
    "old_code",
    "new_code",
    "effective_date",
    "new_name",
    "new_kind",
    "new_parent",
    "new_lat",
    "new_lon",
)
REQUIRED_COLUMNS = ("old_code", "new_code", "effective_date")
_DMY = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_YMD = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


class ReorganizeError(DataFileError):
    """A mapping was refused; nothing was written."""


@dataclass(frozen=True)
class MappingRow:
    """One row of a mapping file, checked for form."""

    line: int
    old: str | None
    new: str | None
    date: dt.date
    name: str | None = None
    kind: str | None = None
    parent: str | None = None
    lat: float | None = None
    lon: float | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "old": self.old,
            "new": self.new,
            "date": self.date.isoformat(),
            "name": self.name,
            "kind": self.kind,
            "parent": self.parent,
            "lat": self.lat,
            "lon": self.lon,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MappingRow:
        return cls(
            int(data["line"]),
            data["old"],
            data["new"],
            dt.date.fromisoformat(data["date"]),
            data.get("name"),
            data.get("kind"),
            data.get("parent"),
            data.get("lat"),
            data.get("lon"),
        )

    @property
    def defines(self) -> bool:
        """True when the row describes its new unit (name, kind or parent given)."""
        return bool(self.name or self.kind or self.parent or self.lat is not None)


@dataclass
class Mapping:
    file: str
    rows: list[MappingRow]


def parse_date(value: str) -> dt.date | None:
    """``DD/MM/YYYY`` or ``YYYY-MM-DD``; None when neither or not a real day."""
    value = value.strip()
    try:
        if m := _DMY.fullmatch(value):
            return dt.date(int(m[3]), int(m[2]), int(m[1]))
        if m := _YMD.fullmatch(value):
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None
    return None


def read_mapping(path: Path | str, *, display_name: str | None = None) -> Mapping:
    """Parse a mapping CSV; raise ``ReorganizeError`` listing every problem of form."""
    path = Path(path)
    log = IssueLog(display_name or str(path))
    content = read_text(path, log)
    if content is None:
        raise ReorganizeError(log.issues)
    rows = _read(content, log)
    log.raise_if_any(ReorganizeError)
    return Mapping(log.file, rows)


def _read(content: str, log: IssueLog) -> list[MappingRow]:
    reader = csv.reader(io.StringIO(content, newline=""))
    header: list[str] | None = None
    rows: list[MappingRow] = []
    last_line = 0
    try:
        for cells in reader:
            line = last_line + 1
            last_line = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if header is None:
                header = _header(cells, line, log)
                if header is None:
                    return []
                continue
            row = _row(header, cells, line, log)
            if row is not None:
                rows.append(row)
    except csv.Error as exc:
        log.add(Where(reader.line_num), _("CSV syntax error: {problem}").format(problem=exc))
        return []
    if header is None:
        log.add(Where(1), _("the file is empty"))
    elif not rows and not log.issues:
        log.add(Where(1), _("the mapping lists no change"))
    return rows


def _header(cells: list[str], line: int, log: IssueLog) -> list[str] | None:
    names = [cell.strip().lower() for cell in cells]
    ok = True
    for i, name in enumerate(names, start=1):
        if name not in COLUMNS:
            log.add(
                Where(line, name, i),
                _("unknown column; expected: {columns}").format(columns=", ".join(COLUMNS)),
            )
            ok = False
        elif names.index(name) != i - 1:
            log.add(Where(line, name, i), _("this column is given twice"))
            ok = False
    for name in REQUIRED_COLUMNS:
        if name not in names:
            log.add(Where(line), _("missing column {column}").format(column=name))
            ok = False
    return names if ok else None


def _row(header: list[str], cells: list[str], line: int, log: IssueLog) -> MappingRow | None:
    if len(cells) != len(header):
        log.add(
            Where(line),
            _("expected {expected} fields, found {found}").format(
                expected=len(header), found=len(cells)
            ),
        )
        return None
    values = {name: cell.strip() for name, cell in zip(header, cells, strict=True)}
    where = {name: Where(line, name, i) for i, name in enumerate(header, start=1)}
    before = len(log.issues)
    codes: dict[str, str | None] = {}
    for key in ("old_code", "new_code", "new_parent"):
        value = values.get(key, "")
        codes[key] = value or None
        if value and (len(value) > 64 or not CODE_RE.fullmatch(value)):
            log.add(
                where[key],
                _("{value} is not a valid code (letters, digits, '-', '_' or '.')").format(
                    value=value
                ),
            )
    date = parse_date(values["effective_date"])
    if date is None:
        log.add(
            where["effective_date"],
            _("invalid date {value}; expected DD/MM/YYYY").format(
                value=values["effective_date"] or '""'
            ),
        )
    name = values.get("new_name") or None
    if name is not None and len(name) > 200:
        log.add(where["new_name"], _("longer than {max} characters").format(max=200))
    kind = (values.get("new_kind") or "").lower() or None
    allowed = [k.value for k in UnitKind]
    if kind is not None and kind not in allowed:
        log.add(
            where["new_kind"],
            _("unknown unit kind {kind}; expected one of: {kinds}").format(
                kind=kind, kinds=", ".join(allowed)
            ),
        )
    place: dict[str, float | None] = {}
    for key, low, high in (("new_lat", -90, 90), ("new_lon", -180, 180)):
        value = values.get(key, "")
        place[key] = None
        if value:
            try:
                place[key] = float(value.replace(",", "."))
            except ValueError:
                place[key] = None
            if place[key] is None or not low <= place[key] <= high:  # type: ignore[operator]
                log.add(
                    where[key],
                    _("expected a number between {low} and {high}, got {value}").format(
                        low=low, high=high, value=value
                    ),
                )
    if bool(values.get("new_lat")) != bool(values.get("new_lon")):
        log.add(Where(line), _("give both new_lat and new_lon, or neither"))
    if codes["old_code"] is None and codes["new_code"] is None:
        log.add(Where(line), _("give old_code, new_code or both"))
    elif codes["new_code"] is None and (name or kind or codes["new_parent"]):
        log.add(where["new_code"], _("new_name, new_kind and new_parent need a new_code"))
    if len(log.issues) > before or date is None:
        return None
    return MappingRow(
        line,
        codes["old_code"],
        codes["new_code"],
        date,
        name,
        kind,
        codes["new_parent"],
        place["new_lat"],
        place["new_lon"],
    )
