"""``antt plan import [FILE]``: load a plan file (default: the shipped 2025 Nghệ An plan).

The file is read and checked before the database starts, so a malformed file fails
fast; references to stored units are checked inside the import's transaction.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from bot.commands._output import counts_line
from handlers.i18n import _

if TYPE_CHECKING:
    from db.plan_import import PlanReport


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("plan", help=_("the plan: tasks, assignments and deadlines"))
    actions = parser.add_subparsers(dest="action", required=True)
    imp = actions.add_parser(
        "import", help=_("import a plan file (YAML); importing it again changes nothing")
    )
    imp.add_argument(
        "file", nargs="?", help=_("the plan file (default: the shipped 2025 Nghệ An plan)")
    )
    imp.set_defaults(handler=import_plan_command)


async def import_plan_command(args: argparse.Namespace) -> int:
    from bot.bootstrap import open_database
    from bot.config import get_settings
    from db.plan_import import SHIPPED_PLAN, import_plan, read_plan
    from db.session import UnitOfWork

    plan = read_plan(args.file or SHIPPED_PLAN)
    async with open_database(get_settings()) as db, UnitOfWork(db) as uow:
        report = await import_plan(uow.session, plan)
        await uow.commit()
    print(_("Plan {code} imported from {file}.").format(code=report.plan_code, file=plan.file))
    print_plan_report(report)
    return 0


def print_plan_report(report: PlanReport) -> None:
    for table, counts in report.stats.tables.items():
        print(counts_line(table, counts))
    if report.retired_tasks:
        print(
            _("{count} tasks are no longer in the file: retired, their history kept.").format(
                count=report.retired_tasks
            )
        )
    if report.retired_assignments:
        print(
            _("{count} assignments are no longer in the file: retired, their history kept.").format(
                count=report.retired_assignments
            )
        )
    if not report.stats.changed:
        print(_("Nothing changed."))
