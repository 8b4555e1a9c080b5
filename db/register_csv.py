"""``antt register import FILE.csv`` / ``antt register export``: the register as CSV.

One row is one status event of one recognition (header row, any column order)::

    unit_code,kind,level,decided_by,decision_no,decided_on,status,status_on,note

``kind``: model, drug_free, security_safe, rural_security; ``level`` (models only):
ministry, province, district; dates ``dd/mm/yyyy`` (or ``yyyy-mm-dd``); ``status``
(default recognised): recognised, maintained, spread, reappraisal, closed, revoked,
on ``status_on`` (default the decision's date). A recognition is keyed by unit, kind
and decision number; its first row creates it with a "recognised" event on the
decision's date. The export writes the same shape, so importing an export changes
nothing.

Any problem (unknown unit, kind, level or status, a date in the future, a status
before its decision, the same row twice, one decision given two ways) refuses the
whole file with one line per problem (``RegisterFileError.issues``); nothing is written.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db import audit
from db.importing import Counts, DataFileError, IssueLog, Where, lock_imports, read_text
from db.models import (
    Recognition,
    RecognitionEvent,
    RecognitionKind,
    RecognitionLevel,
    RecognitionStatus,
    Unit,
)
from db.register import add_event
from handlers.i18n import _

COLUMNS = (
    "unit_code",
    "kind",
    "level",
    "decided_by",
    "decision_no",
    "decided_on",
    "status",
    "status_on",
    "note",
)
REQUIRED = ("unit_code", "kind", "decided_by", "decision_no", "decided_on")
_VI_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class RegisterFileError(DataFileError):
    """A register file was refused; nothing was written."""


@dataclass(frozen=True)
class RegisterRow:
    line: int
    unit_code: str
    kind: str
    level: str | None
    decided_by: str
    decision_no: str
    decided_on: dt.date
    status: str
    status_on: dt.date
    note: str | None

    @property
    def decision_key(self) -> tuple[str, str, str]:
        return (self.unit_code, self.kind, self.decision_no)


@dataclass
class RegisterImport:
    recognitions: Counts
    events: Counts


def parse_date(value: str) -> dt.date | None:
    """``dd/mm/yyyy`` or ``yyyy-mm-dd``; None if neither or not a real day."""
    try:
        if m := _VI_DATE.fullmatch(value):
            return dt.date(int(m[3]), int(m[2]), int(m[1]))
        if _ISO_DATE.fullmatch(value):
            return dt.date.fromisoformat(value)
    except ValueError:
        return None
    return None


def read_register_csv(path: Path | str, today: dt.date) -> list[RegisterRow]:
    """Parse and check a register CSV (no database); ``RegisterFileError`` on any problem."""
    path = Path(path)
    log = IssueLog(str(path))
    content = read_text(path, log)
    if content is None:
        raise RegisterFileError(log.issues)
    rows = _read(content, log, today)
    log.raise_if_any(RegisterFileError)
    return rows


def _read(content: str, log: IssueLog, today: dt.date) -> list[RegisterRow]:
    reader = csv.reader(io.StringIO(content, newline=""))
    header: list[str] | None = None
    rows: list[RegisterRow] = []
    seen: dict[tuple[object, ...], int] = {}
    decisions: dict[tuple[str, str, str], RegisterRow] = {}
    last = 0
    try:
        for raw in reader:
            line = last + 1
            last = reader.line_num
            if not any(cell.strip() for cell in raw):
                continue
            if header is None:
                header = [c.strip().lower() for c in raw]
                bad = [c for c in header if c not in COLUMNS]
                missing = [c for c in REQUIRED if c not in header]
                for name in bad:
                    log.add(
                        Where(line, name),
                        _("unknown column; expected: {columns}").format(columns=", ".join(COLUMNS)),
                    )
                for name in missing:
                    log.add(Where(line), _("missing column {column}").format(column=name))
                if bad or missing:
                    return []
                continue
            row = _row(header, raw, line, log, today)
            if row is None:
                continue
            key = (row.decision_key, row.status, row.status_on)
            if key in seen:
                log.add(
                    Where(line),
                    _("the same row as line {line}").format(line=seen[key]),
                )
                continue
            seen[key] = line
            first = decisions.setdefault(row.decision_key, row)
            if (first.level, first.decided_by, first.decided_on) != (
                row.level,
                row.decided_by,
                row.decided_on,
            ):
                log.add(
                    Where(line, "decision_no"),
                    _("decision {number} is given differently on line {line}").format(
                        number=row.decision_no, line=first.line
                    ),
                )
                continue
            rows.append(row)
    except csv.Error as exc:
        log.add(Where(reader.line_num), _("CSV syntax error: {problem}").format(problem=exc))
        return []
    if header is None:
        log.add(Where(1), _("the file is empty"))
    return rows


def _row(
    header: list[str], raw: list[str], line: int, log: IssueLog, today: dt.date
) -> RegisterRow | None:
    if len(raw) != len(header):
        log.add(
            Where(line),
            _("expected {expected} fields, found {found}").format(
                expected=len(header), found=len(raw)
            ),
        )
        return None
    cells = {name: cell.strip() for name, cell in zip(header, raw, strict=True)}
    before = len(log.issues)

    def where(name: str) -> Where:
        return Where(line, name, header.index(name) + 1 if name in header else None)

    for name in REQUIRED:
        if not cells.get(name):
            log.add(where(name), _("must not be empty"))
    kind = cells.get("kind", "").lower()
    kinds = [k.value for k in RecognitionKind]
    if kind and kind not in kinds:
        log.add(
            where("kind"),
            _("unknown recognition kind {kind}; expected one of: {kinds}").format(
                kind=kind, kinds=", ".join(kinds)
            ),
        )
    level = cells.get("level", "").lower() or None
    levels = [v.value for v in RecognitionLevel]
    if level is not None and level not in levels:
        log.add(
            where("level"),
            _("unknown level {level}; expected one of: {levels}").format(
                level=level, levels=", ".join(levels)
            ),
        )
    elif kind == RecognitionKind.MODEL and level is None:
        log.add(where("level"), _("a model recognition needs its level"))
    elif level is not None and kind and kind != RecognitionKind.MODEL:
        log.add(where("level"), _("only model recognitions have a level"))
    status = cells.get("status", "").lower() or RecognitionStatus.RECOGNISED.value
    statuses = [s.value for s in RecognitionStatus]
    if status not in statuses:
        log.add(
            where("status"),
            _("unknown status {status}; expected one of: {statuses}").format(
                status=status, statuses=", ".join(statuses)
            ),
        )
    decided_on = _date(cells.get("decided_on", ""), where("decided_on"), log, today)
    status_on = (
        _date(cells["status_on"], where("status_on"), log, today)
        if cells.get("status_on")
        else decided_on
    )
    if decided_on and status_on and status_on < decided_on:
        log.add(where("status_on"), _("before the decision's date"))
    if len(log.issues) > before or decided_on is None or status_on is None:
        return None
    return RegisterRow(
        line,
        cells["unit_code"],
        kind,
        level,
        cells["decided_by"],
        cells["decision_no"],
        decided_on,
        status,
        status_on,
        cells.get("note") or None,
    )


def _date(value: str, where: Where, log: IssueLog, today: dt.date) -> dt.date | None:
    if not value:
        return None
    day = parse_date(value)
    if day is None:
        log.add(where, _("invalid date {value}; expected DD/MM/YYYY").format(value=value))
        return None
    if day > today:
        log.add(where, _("{value} is in the future").format(value=value))
        return None
    return day


async def import_register(
    session: AsyncSession, file: str, rows: list[RegisterRow], *, actor_member_id: int | None
) -> RegisterImport:
    """Check the units, then add recognitions and events (no commit); refuse on any problem."""
    await lock_imports(session)
    codes = sorted({r.unit_code for r in rows})
    found = await session.execute(select(Unit.code, Unit.id).where(Unit.code.in_(codes)))
    units: dict[str, int] = {code: unit_id for code, unit_id in found}
    log = IssueLog(file)
    for r in rows:
        if r.unit_code not in units:
            log.add(Where(r.line, "unit_code"), _("unknown unit {code}").format(code=r.unit_code))
    log.raise_if_any(RegisterFileError)

    result = RegisterImport(Counts(), Counts())
    for r in sorted(rows, key=lambda r: (r.decided_on, r.status_on, r.line)):
        recognition, created = await ensure_recognition(
            session,
            unit_id=units[r.unit_code],
            kind=r.kind,
            level=r.level,
            decided_by=r.decided_by,
            decision_no=r.decision_no,
            decided_on=r.decided_on,
            source="csv",
            actor_member_id=actor_member_id,
        )
        if created:
            result.recognitions.created += 1
        if r.status == RecognitionStatus.RECOGNISED and r.status_on == r.decided_on:
            if created:
                result.events.created += 1  # made with the recognition
            else:
                result.events.unchanged += 1
            continue
        added = await add_event(
            session,
            recognition,
            r.status,
            r.status_on,
            note=r.note,
            source="csv",
            actor_member_id=actor_member_id,
        )
        if added:
            result.events.created += 1
        else:
            result.events.unchanged += 1
    if result.recognitions.changed or result.events.changed:
        audit.record(
            session,
            "register.import",
            actor_member_id=actor_member_id,
            object_kind="file",
            object_id=file[-64:],
            data={
                "recognitions": result.recognitions.as_dict(),
                "events": result.events.as_dict(),
            },
        )
    return result


async def ensure_recognition(
    session: AsyncSession,
    *,
    unit_id: int,
    kind: str,
    level: str | None,
    decided_by: str,
    decision_no: str,
    decided_on: dt.date,
    source: str,
    actor_member_id: int | None,
) -> tuple[Recognition, bool]:
    """The recognition by (unit, kind, decision number), made with its first event if new."""
    stmt = select(Recognition).where(
        Recognition.unit_id == unit_id,
        Recognition.kind == kind,
        Recognition.decision_no == decision_no,
    )
    found = (await session.execute(stmt)).scalar_one_or_none()
    if found is not None:
        return found, False
    recognition = Recognition(
        unit_id=unit_id,
        kind=kind,
        level=level,
        decided_by=decided_by,
        decision_no=decision_no,
        decided_on=decided_on,
        status=RecognitionStatus.RECOGNISED.value,
        status_on=decided_on,
    )
    session.add(recognition)
    await session.flush()
    session.add(
        RecognitionEvent(
            recognition_id=recognition.id,
            status=RecognitionStatus.RECOGNISED.value,
            on=decided_on,
            source=source,
            actor_member_id=actor_member_id,
        )
    )
    await session.flush()
    return recognition, True


async def export_rows(session: AsyncSession, root: Unit | None = None) -> list[list[str]]:
    """The header and one row per status event, by unit path, decision date, event date."""
    stmt = (
        select(Unit.code, Recognition, RecognitionEvent)
        .join(Recognition, Recognition.unit_id == Unit.id)
        .join(RecognitionEvent, RecognitionEvent.recognition_id == Recognition.id)
        .order_by(Unit.path, Recognition.decided_on, Recognition.id, RecognitionEvent.on)
    )
    if root is not None:
        stmt = stmt.where(Unit.path.startswith(root.path, autoescape=True))
    lines: list[list[str]] = [list(COLUMNS)]
    for code, r, e in (await session.execute(stmt)).all():
        lines.append(
            [
                code,
                r.kind,
                r.level or "",
                r.decided_by,
                r.decision_no,
                r.decided_on.strftime("%d/%m/%Y"),
                e.status,
                e.on.strftime("%d/%m/%Y"),
                e.note or "",
            ]
        )
    return lines


def write_csv(lines: Iterable[list[str]], out: io.TextIOBase | io.StringIO) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows(lines)
