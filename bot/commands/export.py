"""``antt export --unit CODE [--from DATE] [--to DATE] [--format xlsx|csv] [--output PATH]``.

Writes the progress, check-ins and tips of the unit's subtree (see
:mod:`handlers.export`): an XLSX workbook, or with ``--format csv`` a ZIP of one
CSV per sheet. Days are ``dd/mm/yyyy`` (or ``yyyy-mm-dd``), both included; by
default the 30 days up to today. The file is written next to its final name and
renamed when complete, so a failed export leaves no half file behind. An export
of more than 10,000 rows shows a progress bar on stderr. Every export writes an
audit row. Database and spreadsheet code load only when the command runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot.errors import UserError
from handlers.i18n import _

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

LARGE_EXPORT_ROWS = 10_000
BAR_WIDTH = 30


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "export", help=_("export a unit's progress, check-ins and tips to Excel (or CSV)")
    )
    parser.add_argument("--unit", required=True, metavar="CODE", help=_("the unit's code"))
    parser.add_argument(
        "--from",
        dest="first",
        metavar="DATE",
        help=_("first day, dd/mm/yyyy (default: 30 days before the last day)"),
    )
    parser.add_argument(
        "--to",
        dest="last",
        metavar="DATE",
        help=_("last day, dd/mm/yyyy (default: today; on the demo's data, the demo's day)"),
    )
    parser.add_argument(
        "--format",
        choices=("xlsx", "csv"),
        default="xlsx",
        help=_("xlsx (default), or csv: a ZIP with one CSV file per sheet"),
    )
    parser.add_argument(
        "--output",
        "-o",
        type=Path,
        metavar="PATH",
        help=_("the file to write (default: antt-CODE-FIRST-LAST.xlsx or .zip here)"),
    )
    parser.add_argument(
        "--lang",
        choices=("vi", "en"),
        help=_("language of sheet names and headers (default: vi, or ANTT_DEFAULT_LANGUAGE)"),
    )
    parser.set_defaults(handler=export_command)


class TextProgress:
    """``[#####-----]  50%  1.234/2.468 rows`` on one line, redrawn when the percent moves."""

    def __init__(self, stream: TextIO, *, min_total: int = LARGE_EXPORT_ROWS) -> None:
        self.stream = stream
        self.min_total = min_total
        self.shown = -1
        self.drawn = False

    def __call__(self, done: int, total: int) -> None:
        if total < self.min_total:
            return
        percent = min(100, done * 100 // max(total, 1))
        if percent == self.shown:
            return
        self.shown = percent
        filled = BAR_WIDTH * percent // 100
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        self.stream.write(
            "\r"
            + _("[{bar}] {percent:>3}%  {done}/{total} rows").format(
                bar=bar, percent=percent, done=done, total=total
            )
        )
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def _day(value: str | None, option: str):  # type: ignore[no-untyped-def]
    from handlers.export import parse_day

    if value is None:
        return None
    try:
        return parse_day(value)
    except ValueError:
        raise UserError(
            _("{option} {value}: not a date (dd/mm/yyyy)").format(option=option, value=value)
        ) from None


async def demo_now(session: AsyncSession, data_dir: Path) -> dt.datetime | None:
    """The demo clock's moment when the database holds the demo's data; else None."""
    from sqlalchemy import select

    from bot.demo import saved_start
    from bot.demo_seed import DEMO_PLAN_CODE
    from db.models import Plan

    if await session.scalar(select(Plan.id).where(Plan.code == DEMO_PLAN_CODE)) is None:
        return None
    return saved_start(data_dir)


async def export_command(args: argparse.Namespace) -> int:
    from bot.bootstrap import open_database
    from bot.commands._args import unit_of
    from bot.config import get_settings
    from db.history import predecessors
    from db.models import utcnow
    from db.session import UnitOfWork
    from handlers.export import (
        count_rows,
        default_range,
        file_name,
        record_export,
        write_export,
    )
    from handlers.former import including_former
    from handlers.i18n import local_today, set_language

    if args.lang:
        set_language(args.lang)
    settings = get_settings()
    async with open_database(settings, existing=True) as db, UnitOfWork(db) as uow:
        # On the demo's data "today" is the demo's day, as for the bot's own export.
        now = await demo_now(uow.session, settings.data_dir) or utcnow()
        first, last = default_range(
            _day(args.first, "--from"), _day(args.last, "--to"), local_today(now)
        )
        if first > last:
            raise UserError(_("The first day is after the last day."))
        unit = await unit_of(uow.session, args.unit)
        path: Path = args.output or Path(file_name(unit, first, last, args.format))
        counts = await count_rows(uow.session, unit, first, last)
        former = including_former(await predecessors(uow.session, unit), escape=False)
        bar = TextProgress(sys.stderr)
        partial = path.with_name(path.name + ".part")
        started = time.perf_counter()
        try:
            with partial.open("wb") as fh:
                counts = await write_export(
                    uow.session,
                    unit,
                    fh,
                    first=first,
                    last=last,
                    fmt=args.format,
                    now=now,
                    progress=bar,
                    total=counts.total,
                )
            partial.replace(path)
        except OSError as exc:
            raise UserError(
                _("Cannot write {path}: {error}").format(path=path, error=exc)
            ) from None
        finally:
            bar.close()
            partial.unlink(missing_ok=True)
        record_export(
            uow.session,
            unit,
            actor_member_id=None,
            first=first,
            last=last,
            fmt=args.format,
            counts=counts,
            via="cli",
        )
        await uow.commit()
    print(
        _(
            "Wrote {path}: {progress} assignments, {checkins} check-ins, {tips} tips "
            "({first} to {last}, {seconds} s)."
        ).format(
            path=path,
            progress=counts.progress,
            checkins=counts.checkins,
            tips=counts.tips,
            first=first.strftime("%d/%m/%Y"),
            last=last.strftime("%d/%m/%Y"),
            seconds=f"{time.perf_counter() - started:.1f}",
        )
    )
    if former:
        print(
            _("The history of {unit} is included ({former}).").format(unit=unit.name, former=former)
        )
    return 0
