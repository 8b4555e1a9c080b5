"""What the data-file imports (plan YAML, unit CSV) share: located problems and counts.

An import first collects every problem it can find, then refuses the whole file
with a ``DataFileError`` (one line: the first problem and how many more), or
writes everything in one transaction. Writers take ``lock_imports`` so two
imports never interleave.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import UserError
from handlers.i18n import _

# A unit's code, and a date, as the data files write them.
CODE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")

# pg_advisory_xact_lock key shared by every import that writes units or plans ("ANTT").
IMPORT_LOCK_KEY = 0x414E5454


@dataclass(frozen=True)
class Where:
    """A place in a data file: line (1-based), key path or column name, column number."""

    line: int | None
    path: str = ""
    column: int | None = None


@dataclass(frozen=True)
class Issue:
    """One problem in a data file, already translated."""

    file: str
    where: Where
    message: str

    def __str__(self) -> str:
        place = self.file
        if self.where.line is not None:
            place += f":{self.where.line}"
            if self.where.column is not None:
                place += f":{self.where.column}"
        if self.where.path:
            return f"{place}: {self.where.path}: {self.message}"
        return f"{place}: {self.message}"


class DataFileError(UserError):
    """A data file was refused; nothing was written. ``issues`` lists every problem found."""

    def __init__(self, issues: list[Issue]) -> None:
        if not issues:
            raise ValueError("a DataFileError needs at least one issue")
        self.issues = list(issues)
        message = str(self.issues[0])
        if len(self.issues) > 1:
            message += " " + _("(and {count} more problems)").format(count=len(self.issues) - 1)
        super().__init__(message)


class IssueLog:
    """Collects the problems of one file."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.issues: list[Issue] = []

    def add(self, where: Where, message: str) -> None:
        self.issues.append(Issue(self.file, where, message))

    def raise_if_any(self, error: type[DataFileError]) -> None:
        if self.issues:
            raise error(sorted(self.issues, key=_issue_order))


def _issue_order(issue: Issue) -> tuple[int, int]:
    return (issue.where.line or 0, issue.where.column or 0)


@dataclass
class Counts:
    """Rows of one kind an import created, updated, or found already as the file says."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)

    def as_dict(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}


@dataclass
class ImportStats:
    """Per-table counts of one import, in a stable order for printing."""

    tables: dict[str, Counts] = field(default_factory=dict)

    def __getitem__(self, table: str) -> Counts:
        return self.tables.setdefault(table, Counts())

    @property
    def changed(self) -> bool:
        return any(c.changed for c in self.tables.values())


async def lock_imports(session: AsyncSession) -> None:
    """Serialise imports until the end of the transaction (they read, compare, then write)."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": IMPORT_LOCK_KEY})


def read_text(path: Path, log: IssueLog) -> str | None:
    """The file as UTF-8 text (a BOM dropped); None, with the problem in ``log``, if it
    cannot be read or is not UTF-8."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        log.add(Where(None), _("cannot read the file: {reason}").format(reason=exc.strerror))
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        log.add(Where(data[: exc.start].count(b"\n") + 1), _("the file is not UTF-8 text"))
        return None
