"""/export and ``antt export``: a unit's subtree as an Excel workbook, or as CSV files.

Three sheets, names and headers in the current language (Vietnamese by default):

==============  ==========================================================================
sheet           one row per
==============  ==========================================================================
progress        assignment under the unit, as of now: unit, task, target, latest value,
                share of target, status, deadline, last check-in
check-ins       check-in made under the unit between the first and the last day
                (corrections included, each naming the check-in it corrects)
tips            tip routed under the unit and received between those days: number,
                times, category, unit, place details, status, outcome, escalation,
                "anonymous" or "identified", text
==============  ==========================================================================

Nothing about who sent a tip is exported: not an anonymous reporter (there is
nothing to export), not an identified reporter's name, phone or account, not a
shared location (see ``db.export``). Officers' names on check-ins are staff.

Dates are real spreadsheet dates shown ``dd/MM/yyyy`` (times ``dd/MM/yyyy HH:mm``,
Asia/Ho_Chi_Minh). ``--format csv`` writes one ZIP holding one CSV per sheet
(``progress.csv``, ``checkins.csv``, ``tips.csv``; UTF-8 with a BOM so Excel reads
Vietnamese; dates as ``dd/MM/yyyy`` text): one export stays one file, whether it
is sent in a chat or written with ``--output``. Text that a spreadsheet would
run as a formula (``=``, ``+``, ``-``, ``@``) stays text. Every export writes an
audit row (``export``: who, which unit, days, format, rows).

In a chat, ``/export [unit code] [first day] [last day]`` (days ``dd/mm/yyyy``;
default the last 30 days) is for supervisors, within their own subtree, and
refuses more than ``export_chat_max_rows`` rows (the CLI has no limit).

```mermaid
flowchart LR
    cmd["/export [code] [from] [to]"] --> who{supervisor?}
    menu["menu: Export to Excel (m:export)"] --> who
    who -- no --> hint[main menu with a hint]
    who -- yes --> scope{unit given?}
    scope -- "yes, in scope" --> size
    scope -- "outside scope" --> refuse[outside your area]
    scope -- "no, one unit supervised" --> size
    scope -- "no, several" --> pick["choose: ex:u:id"] --> size
    size{rows <= limit?} -- yes --> file[XLSX document + audit row]
    size -- no --> narrow[ask for fewer days or the CLI]
```
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, TYPE_CHECKING, Any, Protocol

from db import audit
from db import export as repo
from db.checkins import progress_in_subtree
from db.digest import outermost
from db.history import predecessors
from db.models import Role, Unit
from db.units import by_code, by_id
from handlers.checkin import PROGRESS_LABELS, STATUS_LABELS
from handlers.flow import Context, MenuEntry, registry
from handlers.former import including_former
from handlers.i18n import TZ, _, current_language, format_date, local_today
from handlers.render import esc
from handlers.start import COMMAND_HELP, main_menu
from handlers.triage import outcome_label, status_label
from handlers.types import Choice, Message, Reply

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

EXPORT_ROLES = (Role.SUPERVISOR,)
FORMATS = ("xlsx", "csv")
DEFAULT_DAYS = 30
PREFIX = "ex:"
DATE_FORMAT = "DD/MM/YYYY"
DATETIME_FORMAT = "DD/MM/YYYY HH:MM"
CELL_LIMIT = 32767  # characters Excel keeps in a cell
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_ILLEGAL = re.compile(r"[\000-\010\013\014\016-\037]")  # control characters XML refuses
_DAY_FORMATS = ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%d")

ProgressCallback = Callable[[int, int], None]
FIRST_YEAR, LAST_YEAR = 1900, 2999  # days accepted by parse_day


# --- days ------------------------------------------------------------------------------


def parse_day(text: str) -> dt.date:
    """``dd/mm/yyyy`` (also with - or .) or ``yyyy-mm-dd``, years 1900–2999; ValueError otherwise.

    The years are bounded so that a day's bounds in UTC (``day_bounds``) always exist.
    """
    value = text.strip()
    for fmt in _DAY_FORMATS:
        try:
            day = dt.datetime.strptime(value, fmt).date()
        except ValueError:
            continue
        if not FIRST_YEAR <= day.year <= LAST_YEAR:
            raise ValueError(value)
        return day
    raise ValueError(value)


def default_range(
    start: dt.date | None, end: dt.date | None, today: dt.date
) -> tuple[dt.date, dt.date]:
    """The days to export: up to ``end`` (today), from ``start`` (30 days before ``end``)."""
    last = end or today
    first = start or last - dt.timedelta(days=DEFAULT_DAYS - 1)
    return first, last


def day_bounds(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) in UTC of the local days ``first`` to ``last``, both included."""
    start = dt.datetime.combine(first, dt.time(0), tzinfo=TZ).astimezone(dt.UTC)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), tzinfo=TZ)
    return start, end.astimezone(dt.UTC)


def file_name(unit: Unit, first: dt.date, last: dt.date, fmt: str) -> str:
    ext = "zip" if fmt == "csv" else "xlsx"
    return f"antt-{unit.code}-{first:%Y%m%d}-{last:%Y%m%d}.{ext}"


# --- writers -------------------------------------------------------------------------------


def _local(moment: dt.datetime) -> dt.datetime:
    """A moment as a naive local time (spreadsheets have no time zones)."""
    return moment.astimezone(TZ).replace(tzinfo=None)


def _clean(text: str) -> str:
    return _ILLEGAL.sub("", text)[:CELL_LIMIT]


class SheetWriter(Protocol):
    def sheet(self, name: str, file: str, headers: Sequence[str], widths: Sequence[int]) -> None:
        """Start a sheet (``file`` names its CSV)."""

    def row(self, values: Sequence[Any]) -> None: ...

    def finish(self) -> None:
        """Write everything out; the writer is done."""


class XlsxWriter:
    """An openpyxl write-only workbook: rows go to disk as they come, not into memory."""

    def __init__(self, out: IO[bytes]) -> None:
        from openpyxl import Workbook

        self.out = out
        self.book = Workbook(write_only=True)
        self.sheet_: Any = None

    def sheet(self, name: str, file: str, headers: Sequence[str], widths: Sequence[int]) -> None:
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Font
        from openpyxl.utils import get_column_letter

        self.sheet_ = self.book.create_sheet(title=name[:31])
        for i, width in enumerate(widths, start=1):
            self.sheet_.column_dimensions[get_column_letter(i)].width = width
        self.sheet_.freeze_panes = "A2"
        bold = Font(bold=True)
        cells = []
        for header in headers:
            cell = WriteOnlyCell(self.sheet_, value=header)
            cell.font = bold
            cells.append(cell)
        self.sheet_.append(cells)

    def row(self, values: Sequence[Any]) -> None:
        from openpyxl.cell import WriteOnlyCell

        cells = []
        for value in values:
            if isinstance(value, dt.datetime):
                cell = WriteOnlyCell(self.sheet_, value=_local(value))
                cell.number_format = DATETIME_FORMAT
            elif isinstance(value, dt.date):
                cell = WriteOnlyCell(self.sheet_, value=value)
                cell.number_format = DATE_FORMAT
            elif isinstance(value, str):
                cell = WriteOnlyCell(self.sheet_, value=_clean(value))
                cell.data_type = "s"  # "=..." stays text, never a formula
            else:
                cell = WriteOnlyCell(self.sheet_, value=value)
            cells.append(cell)
        self.sheet_.append(cells)

    def finish(self) -> None:
        self.book.save(self.out)


class CsvZipWriter:
    """One CSV per sheet inside a ZIP, written entry by entry."""

    def __init__(self, out: IO[bytes]) -> None:
        self.zip = zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED)
        self.entry: IO[bytes] | None = None
        self.text: io.TextIOWrapper | None = None
        self.csv: Any = None

    def _close_entry(self) -> None:
        if self.text is not None:
            self.text.flush()
            self.text.detach()
        if self.entry is not None:
            self.entry.close()
        self.entry = self.text = None

    def sheet(self, name: str, file: str, headers: Sequence[str], widths: Sequence[int]) -> None:
        self._close_entry()
        self.entry = self.zip.open(file, "w")
        self.text = io.TextIOWrapper(self.entry, encoding="utf-8-sig", newline="")
        self.csv = csv.writer(self.text)
        self.csv.writerow(headers)

    def row(self, values: Sequence[Any]) -> None:
        self.csv.writerow([self._text(v) for v in values])

    @staticmethod
    def _text(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, dt.datetime):
            return _local(value).strftime("%d/%m/%Y %H:%M")
        if isinstance(value, dt.date):
            return format_date(value)
        if isinstance(value, Decimal | float):
            number = Decimal(str(value)).normalize()
            return format(number, "f")
        if isinstance(value, str):
            text = _clean(value)
            # A formula may follow spaces or line breaks ("  =cmd|..."): look past them too.
            formula = text.startswith(FORMULA_START) or text.lstrip().startswith(FORMULA_START)
            return "'" + text if formula else text
        return str(value)

    def finish(self) -> None:
        self._close_entry()
        self.zip.close()


def make_writer(fmt: str, out: IO[bytes]) -> SheetWriter:
    if fmt == "csv":
        return CsvZipWriter(out)
    if fmt == "xlsx":
        return XlsxWriter(out)
    raise ValueError(fmt)


# --- the sheets -----------------------------------------------------------------------


def progress_headers() -> list[str]:
    return [
        _("Unit code"),
        _("Unit"),
        _("Task"),
        _("Target"),
        _("Reported value"),
        _("Share of target (%)"),
        _("Status"),
        _("Deadline"),
        _("Last check-in"),
    ]


def checkin_headers() -> list[str]:
    return [
        _("Check-in no."),
        _("Time"),
        _("Unit code"),
        _("Unit"),
        _("Task"),
        _("Status"),
        _("Value"),
        _("Base (sub-units)"),
        _("Period"),
        _("Note"),
        _("Officer"),
        _("Corrects check-in no."),
    ]


def tip_headers() -> list[str]:
    return [
        _("Tip no."),
        _("Received"),
        _("Category"),
        _("Unit code"),
        _("Unit"),
        _("Place details"),
        _("Status"),
        _("Outcome"),
        _("Acknowledged"),
        _("Closed"),
        _("Escalation level"),
        _("Reporter"),
        _("Content"),
    ]


def _checkin_status(status: str | None) -> str:
    labels: dict[str, Callable[[], str]] = {k.value: v for k, v in STATUS_LABELS.items()}
    return labels[status]() if status in labels else (status or "")


def _title(vi: str, en: str, lang: str) -> str:
    return en if lang == "en" and en else vi


@dataclass(frozen=True)
class ExportCounts:
    progress: int
    checkins: int
    tips: int

    @property
    def total(self) -> int:
        return self.progress + self.checkins + self.tips


async def count_rows(
    session: AsyncSession, root: Unit, first: dt.date, last: dt.date
) -> ExportCounts:
    """How many rows each sheet will have (the progress sheet: assignments)."""
    from sqlalchemy import func, select

    from db.history import under
    from db.models import Assignment

    start, end = day_bounds(first, last)
    former = [u.path for u in await predecessors(session, root)]
    assignments = await session.scalar(
        select(func.count())
        .select_from(Assignment)
        .join(Unit, Unit.id == Assignment.unit_id)
        .where(under(root, former))
    )
    return ExportCounts(
        progress=int(assignments or 0),
        checkins=await repo.count_checkins(session, root, start, end, former=former),
        tips=await repo.count_tips(session, root, start, end, former=former),
    )


async def write_export(
    session: AsyncSession,
    root: Unit,
    out: IO[bytes],
    *,
    first: dt.date,
    last: dt.date,
    fmt: str,
    now: dt.datetime,
    progress: ProgressCallback | None = None,
    total: int = 0,
) -> ExportCounts:
    """Write the three sheets of ``root``'s subtree to ``out``; the rows of each.

    ``progress(done, total)`` is called after each row (``total`` as counted before).
    Control goes back to the event loop every few hundred rows.
    """
    lang = current_language()
    today = local_today(now)
    start, end = day_bounds(first, last)
    writer = make_writer(fmt, out)
    done = 0

    async def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, max(total, done))
        if done % 500 == 0:
            await asyncio.sleep(0)

    writer.sheet(
        _("Progress"), "progress.csv", progress_headers(), [14, 28, 48, 10, 12, 12, 16, 12, 12]
    )
    # History included: closed assignments (as they stood on their last day) and those
    # of the closed units merged into the root.
    former_units = await predecessors(session, root)
    former = [u.path for u in former_units]
    found = await progress_in_subtree(session, root, include_closed=True, include_retired=True)
    for unit in former_units:
        found += await progress_in_subtree(session, unit, include_closed=True, include_retired=True)
    rows = sorted(
        {a.assignment_id: a for a in found}.values(),
        key=lambda a: (a.unit_path, a.task_sort, a.deadline, a.assignment_id),
    )
    for a in rows:
        latest = a.latest
        day = a.as_of(today)
        writer.row(
            [
                a.unit_code,
                a.unit_name,
                a.title(lang),
                a.target,
                latest.value if latest is not None else None,
                round(a.fraction(day) * 100, 1),
                _("retired") if a.retired else PROGRESS_LABELS[a.progress(day)](),
                a.deadline,
                latest.created_at.astimezone(TZ).date() if latest is not None else None,
            ]
        )
        await tick()

    writer.sheet(
        _("Check-ins"),
        "checkins.csv",
        checkin_headers(),
        [10, 17, 14, 28, 48, 14, 10, 10, 10, 40, 24, 12],
    )
    checkins = 0
    async for c in repo.checkins(session, root, start, end, former=former):
        writer.row(
            [
                c.checkin_id,
                c.created_at,
                c.unit_code,
                c.unit_name,
                _title(c.title_vi, c.title_en, lang),
                _checkin_status(c.status),
                c.value,
                c.eligible,
                c.period,
                c.note,
                c.officer,
                c.supersedes_id,
            ]
        )
        checkins += 1
        await tick()

    writer.sheet(
        _("Tips"), "tips.csv", tip_headers(), [8, 17, 24, 14, 28, 28, 14, 18, 17, 17, 8, 14, 60]
    )
    tips = 0
    async for t in repo.tips(session, root, start, end, former=former):
        writer.row(
            [
                t.tip_id,
                t.created_at,
                _title(t.category_vi, t.category_en, lang),
                t.unit_code,
                t.unit_name,
                t.place_text,
                status_label(t.status),
                outcome_label(t.outcome),
                t.acknowledged_at,
                t.closed_at,
                t.escalation_level,
                _("anonymous") if t.anonymous else _("identified"),
                t.description,
            ]
        )
        tips += 1
        await tick()
    await asyncio.to_thread(writer.finish)
    return ExportCounts(len(rows), checkins, tips)


def record_export(
    session: AsyncSession,
    root: Unit,
    *,
    actor_member_id: int | None,
    first: dt.date,
    last: dt.date,
    fmt: str,
    counts: ExportCounts,
    via: str,
) -> None:
    audit.record(
        session,
        "export",
        actor_member_id=actor_member_id,
        object_kind="unit",
        object_id=root.id,
        data={
            "unit": root.code,
            "from": first.isoformat(),
            "to": last.isoformat(),
            "format": fmt,
            "via": via,
            "rows": {"progress": counts.progress, "checkins": counts.checkins, "tips": counts.tips},
        },
    )


# --- /export ---------------------------------------------------------------------------


def _usage() -> str:
    return _(
        "Send /export, or /export followed by a unit code and the first and last day (dd/mm/yyyy)."
    )


def parse_args(args: str) -> tuple[str | None, dt.date | None, dt.date | None]:
    """``[code] [first day] [last day]`` in any order of code and days; ValueError if more."""
    code: str | None = None
    days: list[dt.date] = []
    for word in args.split():
        try:
            days.append(parse_day(word))
        except ValueError:
            if code is not None:
                raise
            code = word
    if len(days) > 2:
        raise ValueError(args)
    first = days[0] if days else None
    last = days[1] if len(days) == 2 else None
    return code, first, last


async def send_export(
    ctx: Context, unit: Unit, first: dt.date | None = None, last: dt.date | None = None
) -> Reply:
    first, last = default_range(first, last, local_today(ctx.now))
    if first > last:
        return [Message(_("The first day is after the last day.") + "\n" + _usage())]
    counts = await count_rows(ctx.session, unit, first, last)
    limit = ctx.settings.export_chat_max_rows
    if counts.total > limit:
        return [
            Message(
                _(
                    "That export would have {rows} rows, more than {limit} in a chat. Choose "
                    "fewer days, a unit lower down, or ask an administrator for antt export."
                ).format(rows=counts.total, limit=limit)
            )
        ]
    fmt = "xlsx"
    out = io.BytesIO()
    counts = await write_export(
        ctx.session, unit, out, first=first, last=last, fmt=fmt, now=ctx.now, total=counts.total
    )
    record_export(
        ctx.session,
        unit,
        actor_member_id=ctx.member.id if ctx.member else None,
        first=first,
        last=last,
        fmt=fmt,
        counts=counts,
        via=ctx.incoming.channel,
    )
    caption = _(
        "Export of {unit}, {first} to {last}: {progress} assignments, {checkins} check-ins, "
        "{tips} tips."
    ).format(
        unit=unit.name,
        first=format_date(first),
        last=format_date(last),
        progress=counts.progress,
        checkins=counts.checkins,
        tips=counts.tips,
    )
    if note := including_former(await predecessors(ctx.session, unit), escape=False):
        caption += f" ({note})"
    return [
        Message(
            esc(caption), document=out.getvalue(), document_name=file_name(unit, first, last, fmt)
        )
    ]


async def export_command(ctx: Context, args: str) -> Reply:
    ctx.finish()
    if not ctx.has_role(*EXPORT_ROLES):
        return await main_menu(ctx, _("Exports are for supervisors."))
    try:
        code, first, last = parse_args(args)
    except ValueError:
        return [Message(_usage())]
    if code is not None:
        unit = await by_code(ctx.session, code) or await by_code(ctx.session, code.lower())
        if unit is None or not ctx.can_see(unit, *EXPORT_ROLES):
            return await main_menu(ctx, _("That unit is outside your area."))
        return await send_export(ctx, unit, first, last)
    roots = outermost(ctx.units_with(*EXPORT_ROLES))
    if len(roots) == 1:
        return await send_export(ctx, roots[0], first, last)
    return [
        Message(
            _("Which unit?"),
            choices=[Choice(f"{PREFIX}u:{u.id}", u.name) for u in roots],
        )
    ]


async def on_export_choice(ctx: Context, choice_id: str) -> Reply:
    """``ex:u:<unit id>``: export that unit for the last 30 days (a button; any state)."""
    if not ctx.has_role(*EXPORT_ROLES):
        return await main_menu(ctx, _("Exports are for supervisors."))
    parts = choice_id.split(":")
    unit = None
    if len(parts) == 3 and parts[1] == "u" and parts[2].isdigit():
        unit = await by_id(ctx.session, int(parts[2]))
    if unit is None or not ctx.can_see(unit, *EXPORT_ROLES):
        return await main_menu(ctx, _("That unit is outside your area."))
    ctx.finish()
    return await send_export(ctx, unit)


async def _menu_export(ctx: Context) -> Reply:
    return await export_command(ctx, "")


registry.add_command("export", export_command)
registry.add_global_choice(PREFIX, on_export_choice)
registry.add_menu(
    MenuEntry(
        "export",
        lambda: _("Export to Excel"),
        _menu_export,
        lambda c: c.has_role(*EXPORT_ROLES),
        34,
    )
)
COMMAND_HELP["export"] = lambda: _(
    "an Excel file of your area's progress, check-ins and tips (supervisors)"
)
