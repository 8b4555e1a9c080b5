"""``antt demo``: start the database (embedded unless ANTT_DATABASE_URL is set), import the
shipped plan, and print the province's progress table."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from bot.commands._output import render_table, shorten
from handlers.i18n import _, current_language, format_date

if TYPE_CHECKING:
    from db.progress import TaskProgress

ROOT_UNIT = "nghe-an"
TITLE_WIDTH = 60


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "demo", help=_("start the database, import the 2025 plan, print the province's progress")
    )
    parser.set_defaults(handler=demo_command)


async def demo_command(args: argparse.Namespace) -> int:
    from bot.bootstrap import open_database
    from bot.commands.plan import print_plan_report
    from bot.config import get_settings
    from db.plan_import import SHIPPED_PLAN, import_plan, read_plan
    from db.progress import province_progress
    from db.session import UnitOfWork

    settings = get_settings()
    plan = read_plan(SHIPPED_PLAN)
    if settings.database_url is None:
        print(_("Database: embedded PostgreSQL in {path}").format(path=settings.data_dir.resolve()))
    async with open_database(settings) as db:
        async with UnitOfWork(db) as uow:
            report = await import_plan(uow.session, plan)
            await uow.commit()
        print(_("Plan {code} imported from {file}.").format(code=report.plan_code, file=plan.file))
        print_plan_report(report)
        async with db.sessions() as session:
            rows = await province_progress(session, ROOT_UNIT, plan_code=report.plan_code)
    print()
    print(progress_table(rows))
    return 0


def progress_table(rows: list[TaskProgress]) -> str:
    """The progress rows as a text table, titles in the current language."""
    lang = current_language()
    headers = ["#", _("Task"), _("Units"), _("Checked in"), _("Done"), _("Next deadline")]
    table = [
        (
            i,
            shorten(row.title(lang), TITLE_WIDTH),
            row.assignments,
            row.checked_in,
            row.done,
            format_date(row.next_deadline) if row.next_deadline else "-",
        )
        for i, row in enumerate(rows, start=1)
    ]
    total = sum(r.assignments for r in rows)
    done = sum(r.done for r in rows)
    footer = _("{tasks} tasks, {assignments} assignments, {done} done.").format(
        tasks=len(rows), assignments=total, done=done
    )
    return render_table(headers, table, right=(0, 2, 3, 4)) + "\n" + footer
