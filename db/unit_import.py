"""Import units from CSV (``antt unit import FILE.csv``): a full administrative list.

Columns (header row, any order): ``code,name,kind,parent_code`` and optionally
``lat,lon``, ``phone`` (the unit police's phone, told to people who cannot use
the bot) and, for mergers, ``valid_from,valid_to,replaced_by`` (a unit with
``valid_to`` is closed; ``replaced_by`` names the unit that took it over). UTF-8,
with or without a byte-order mark. A parent or replacement may be defined later in
the file or already be stored. Units are upserted by code; a second import of the
same file changes nothing. Any problem refuses the whole file with a
``UnitFileError`` naming ``FILE:LINE:COLUMN: column: what is wrong``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from db import audit
from db.importing import (
    CODE_RE,
    DATE_RE,
    Counts,
    DataFileError,
    IssueLog,
    Where,
    lock_imports,
    read_text,
)
from db.models import UnitKind
from db.unit_sync import Ref, UnitSpec, apply_units, check_units, load_units, unit_field_problems
from handlers.i18n import _

REQUIRED_COLUMNS = ("code", "name", "kind", "parent_code")
OPTIONAL_COLUMNS = ("lat", "lon", "phone", "valid_from", "valid_to", "replaced_by")
PHONE_RE = re.compile(r"\+?[0-9][0-9 .-]{1,30}")
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS


class UnitFileError(DataFileError):
    """A unit file was refused; nothing was written."""


@dataclass
class UnitFile:
    """A unit file that passed every check that needs no database."""

    file: str
    units: list[UnitSpec]


def read_unit_csv(path: Path | str, *, display_name: str | None = None) -> UnitFile:
    """Parse and check a unit CSV; raise ``UnitFileError`` listing every problem found."""
    path = Path(path)
    log = IssueLog(display_name or str(path))
    content = read_text(path, log)
    if content is None:
        raise UnitFileError(log.issues)
    units = _CsvReader(log).read(content)
    log.raise_if_any(UnitFileError)
    return UnitFile(log.file, units)


async def import_units(session: AsyncSession, unit_file: UnitFile) -> Counts:
    """Check parents and replacements against the stored tree, then upsert (no commit)."""
    await lock_imports(session)
    existing = await load_units(session)
    log = IssueLog(unit_file.file)
    check_units(unit_file.units, existing, log)
    log.raise_if_any(UnitFileError)
    counts, _ids = await apply_units(session, unit_file.units, existing)
    if counts.changed:
        audit.record(
            session,
            "unit.import",
            actor_member_id=None,
            object_kind="file",
            object_id=unit_file.file[-64:],
            data=counts.as_dict(),
        )
    return counts


async def import_unit_file(
    session: AsyncSession, path: Path | str, *, display_name: str | None = None
) -> Counts:
    """``read_unit_csv`` then ``import_units``."""
    return await import_units(session, read_unit_csv(path, display_name=display_name))


class _CsvReader:
    """Reads rows, logging every problem with its line and column."""

    def __init__(self, log: IssueLog) -> None:
        self.log = log

    def read(self, content: str) -> list[UnitSpec]:
        reader = csv.reader(io.StringIO(content, newline=""))
        units: list[UnitSpec] = []
        header: list[str] | None = None
        header_line = 1
        last_line = 0
        try:
            for row in reader:
                line = last_line + 1
                last_line = reader.line_num
                if not any(cell.strip() for cell in row):
                    continue
                if header is None:
                    header_line = line
                    header = self._header(row, line)
                    if header is None:
                        return []
                    continue
                spec = self._row(header, row, line)
                if spec is not None:
                    units.append(spec)
        except csv.Error as exc:
            self.log.add(
                Where(reader.line_num), _("CSV syntax error: {problem}").format(problem=exc)
            )
            return []
        if header is None:
            self.log.add(Where(1), _("the file is empty"))
        elif not units and not self.log.issues:
            self.log.add(Where(header_line), _("the file lists no units"))
        return units

    def _header(self, row: list[str], line: int) -> list[str] | None:
        names = [cell.strip().lower() for cell in row]
        ok = True
        for i, name in enumerate(names, start=1):
            where = Where(line, name, i)
            if name not in COLUMNS:
                self.log.add(
                    where,
                    _("unknown column; expected: {columns}").format(columns=", ".join(COLUMNS)),
                )
                ok = False
            elif names.index(name) != i - 1:
                self.log.add(where, _("this column is given twice"))
                ok = False
        for name in REQUIRED_COLUMNS:
            if name not in names:
                self.log.add(Where(line), _("missing column {column}").format(column=name))
                ok = False
        return names if ok else None

    def _row(self, header: list[str], row: list[str], line: int) -> UnitSpec | None:
        if len(row) != len(header):
            self.log.add(
                Where(line),
                _("expected {expected} fields, found {found}").format(
                    expected=len(header), found=len(row)
                ),
            )
            return None
        cells = {name: cell.strip() for name, cell in zip(header, row, strict=True)}
        where = {name: Where(line, name, i) for i, name in enumerate(header, start=1)}
        before = len(self.log.issues)

        code = self._code(cells["code"], where["code"], required=True)
        name = cells["name"]
        if not name:
            self.log.add(where["name"], _("must not be empty"))
        elif len(name) > 200:
            self.log.add(where["name"], _("longer than {max} characters").format(max=200))
        kind = cells["kind"].lower()
        allowed = [k.value for k in UnitKind]
        if kind not in allowed:
            self.log.add(
                where["kind"],
                _("unknown unit kind {kind}; expected one of: {kinds}").format(
                    kind=cells["kind"] or '""', kinds=", ".join(allowed)
                ),
            )
        parent_code = self._code(cells["parent_code"], where["parent_code"])
        fields: dict[str, Any] = {"name": name, "kind": kind}
        for key in ("lat", "lon"):
            if key in cells:
                fields[key] = self._float(cells[key], where[key])
        for key in ("valid_from", "valid_to"):
            if key in cells:
                fields[key] = self._date(cells[key], where[key])
        if "phone" in cells:
            phone = cells["phone"]
            if phone and not PHONE_RE.fullmatch(phone):
                self.log.add(where["phone"], _("not a phone number: {value}").format(value=phone))
            fields["phone"] = phone or None
        replaced_by = None
        if "replaced_by" in cells:
            replaced_by = self._code(cells["replaced_by"], where["replaced_by"])
        if len(self.log.issues) > before:
            return None
        problems = unit_field_problems(fields, has_replaced_by=replaced_by is not None)
        for key, message in problems:
            self.log.add(where.get(key, Where(line)), message)
        if problems or code is None:
            return None
        return UnitSpec(
            code,
            Where(line, "code", where["code"].column),
            fields,
            Ref(parent_code, where["parent_code"]) if parent_code else None,
            Ref(replaced_by, where["replaced_by"]) if replaced_by else None,
            manages_replaced_by="replaced_by" in cells,
        )

    def _code(self, value: str, where: Where, *, required: bool = False) -> str | None:
        if not value:
            if required:
                self.log.add(where, _("must not be empty"))
            return None
        if len(value) > 64:
            self.log.add(where, _("longer than {max} characters").format(max=64))
            return None
        if not CODE_RE.fullmatch(value):
            self.log.add(
                where,
                _("{value} is not a valid code (letters, digits, '-', '_' or '.')").format(
                    value=value
                ),
            )
            return None
        return value

    def _float(self, value: str, where: Where) -> float | None:
        if not value:
            return None
        try:
            number = float(value.replace(",", "."))
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            self.log.add(where, _("expected a number, got {value}").format(value=value))
            return None
        return number

    def _date(self, value: str, where: Where) -> dt.date | None:
        if not value:
            return None
        if DATE_RE.fullmatch(value):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        self.log.add(where, _("invalid date {value}; expected YYYY-MM-DD").format(value=value))
        return None
